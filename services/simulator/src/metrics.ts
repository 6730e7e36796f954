import { Counter, Gauge, type Registry } from 'prom-client';

export type SimulatorMetrics = ReturnType<typeof createSimulatorMetrics>;

export function createSimulatorMetrics(registry: Registry, rate: { target: number; achieved: () => number; lagSeconds: () => number }) {
  return {
    generated: new Counter({
      name: 'ssot_simulator_events_generated_total',
      help: 'Events the simulated platform emitted, by name',
      labelNames: ['name'] as const,
      registers: [registry],
    }),
    posted: new Counter({ name: 'ssot_simulator_events_posted_total', help: 'Events the api accepted (202)', registers: [registry] }),
    refused: new Counter({
      name: 'ssot_simulator_events_refused_total',
      help: 'Events the api did not take, by reason: its error code (400 invalid_event, 401, 413 …), or network_error once retries ran out',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    target: new Gauge({
      name: 'ssot_simulator_target_rate',
      help: 'Events per second asked for (SIM_RATE)',
      registers: [registry],
      collect() {
        this.set(rate.target);
      },
    }),
    achieved: new Gauge({
      name: 'ssot_simulator_achieved_rate',
      help: 'Events per second the api accepted, since the start',
      registers: [registry],
      collect() {
        this.set(rate.achieved());
      },
    }),
    lag: new Gauge({
      name: 'ssot_simulator_lag_seconds',
      help: 'How far the simulation is behind the wall clock: above 0 while the api takes events slower than they are due',
      registers: [registry],
      collect() {
        this.set(rate.lagSeconds());
      },
    }),
    inFlight: new Gauge({ name: 'ssot_simulator_events_in_flight', help: 'Events handed to the publisher and not answered yet', registers: [registry] }),
    workers: new Gauge({
      name: 'ssot_simulator_workers',
      help: 'Simulated workers, by state (online, crashed)',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    waiting: new Gauge({
      name: 'ssot_simulator_queue_waiting',
      help: 'Jobs waiting for a worker in the simulated platform, by queue',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    commands: new Counter({
      name: 'ssot_simulator_commands_total',
      help: 'Admin commands carried out, by action and outcome (ok, refused)',
      labelNames: ['action', 'outcome'] as const,
      registers: [registry],
    }),
  };
}
