// Everything the launcher prints: its own progress lines and the services' output, each line
// prefixed with where it came from. Colour only on a terminal (and never with NO_COLOR).

const NAME_WIDTH = 'realtime-gateway'.length;

const ANSI = { reset: 0, bold: 1, dim: 2, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90 };
const SOURCE_COLORS = {
  launcher: 'bold',
  redis: 'red',
  api: 'cyan',
  'realtime-gateway': 'magenta',
  collector: 'green',
  'cache-warmer': 'yellow',
  dispatcher: 'blue',
};
const LEVEL_COLORS = { trace: 'gray', debug: 'gray', info: 'green', warn: 'yellow', error: 'red', fatal: 'red' };
const PINO_LEVELS = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
/** Keys every pino line of ours carries and the prefix or the line already says. */
const IMPLIED_KEYS = new Set(['level', 'time', 'msg', 'service', 'instance', 'pid', 'hostname', 'v']);

export function createOutput(stream = process.stdout) {
  const color = stream.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
  const paint = (style, text) => (color && style ? `\x1b[${ANSI[style]}m${text}\x1b[0m` : text);
  const prefix = (source) => `${paint(SOURCE_COLORS[source], source.padEnd(NAME_WIDTH))} | `;
  const write = (source, lines) => stream.write(lines.map((line) => `${prefix(source)}${line}\n`).join(''));

  return {
    color,
    paint,
    /** One progress line of the launcher itself. */
    launcher(message) {
      write('launcher', String(message).split('\n'));
    },
    /** One line a child printed: a pino JSON line rendered compactly, anything else as it is. */
    child(source, line) {
      write(source, renderLogLine(line, paint));
    },
    /** Text without prefix (the banner). */
    plain(text) {
      stream.write(`${text}\n`);
    },
  };
}

/**
 * `HH:MM:SS level msg key=value …` for a pino JSON line; the line unchanged when it is not one.
 * Returns one or more lines: an error's stack follows its line.
 */
export function renderLogLine(line, paint = (_style, text) => text) {
  if (!line.startsWith('{')) return [line];
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    return [line];
  }
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return [line];

  const level = typeof entry.level === 'number' ? (PINO_LEVELS[entry.level] ?? String(entry.level)) : String(entry.level ?? '');
  const parts = [paint('dim', clock(entry.time)), paint(LEVEL_COLORS[level], level.padEnd(5))];
  if (entry.msg !== undefined) parts.push(String(entry.msg));
  let stack;
  for (const [key, value] of Object.entries(entry)) {
    if (IMPLIED_KEYS.has(key)) continue;
    if (isError(value)) {
      parts.push(`${key}=${formatValue(`${value.type ?? 'Error'}: ${value.message}`)}`);
      if (typeof value.stack === 'string' && (level === 'error' || level === 'fatal')) stack = value.stack;
      continue;
    }
    parts.push(`${paint('dim', `${key}=`)}${formatValue(value)}`);
  }
  const lines = [parts.join(' ')];
  // The stack's first line repeats the message already shown.
  if (stack) lines.push(...stack.split('\n').slice(1).map((frame) => paint('dim', `    ${frame.trim()}`)));
  return lines;
}

function isError(value) {
  return value !== null && typeof value === 'object' && typeof value.message === 'string' && ('stack' in value || 'type' in value);
}

function clock(time) {
  const date = time === undefined ? new Date() : new Date(time);
  if (Number.isNaN(date.getTime())) return String(time);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

const MAX_VALUE_LENGTH = 200;

function formatValue(value) {
  let text;
  if (typeof value === 'string') text = /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  else text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_VALUE_LENGTH ? `${text.slice(0, MAX_VALUE_LENGTH - 1)}…` : text;
}
