import { stripVTControlCharacters } from 'node:util';
import { waitFor } from './support/wait';

// The shared polling helper: what a suite sees when its condition never holds. Short deadlines:
// nothing here waits on anything but the helper's own clock.
const FAST = { timeoutMs: 100, intervalMs: 10 };

describe('waitFor', () => {
  it('rejects at its deadline with the assertion that never held, jest diff included', async () => {
    let thrown: unknown;
    const rejection = await waitFor(
      () => {
        try {
          expect(500).toBe(200);
        } catch (error) {
          thrown = error;
          throw error;
        }
        return true;
      },
      { ...FAST, message: 'a 200' },
    ).catch((error: unknown) => error);

    expect(rejection).toBe(thrown);
    const { message, stack } = rejection as Error;
    expect(stripVTControlCharacters(message)).toMatch(/^timed out after 100 ms waiting for a 200:\nexpect\(received\)\.toBe\(expected\)/);
    expect(stripVTControlCharacters(message)).toContain('Expected: 200');
    expect(stripVTControlCharacters(message)).toContain('Received: 500');
    // Jest prints the stack of a failed test: the context must be there too, once.
    expect(stripVTControlCharacters(stack!)).toMatch(/^Error: timed out after 100 ms waiting for a 200:\nexpect\(received\)\.toBe\(expected\)/);
  });

  it('rejects naming the condition and the last value when the check keeps returning false', async () => {
    await expect(waitFor(() => false, { ...FAST, message: 'the flag' })).rejects.toThrow(
      /^timed out after 100 ms waiting for the flag: the check last returned false$/,
    );
  });

  it('resolves with the value once the check holds, and stops asking', async () => {
    let attempts = 0;
    const value = await waitFor(async () => {
      attempts += 1;
      return attempts === 4 ? { attempt: attempts } : undefined;
    }, { timeoutMs: 300, intervalMs: 5 });

    expect(value).toEqual({ attempt: 4 });
    expect(attempts).toBe(4);
  });

  it('reports only what the last attempt did', async () => {
    let attempts = 0;
    const earlyFailure = () => {
      attempts += 1;
      if (attempts === 1) throw new Error('early failure');
      return 0;
    };
    const rejection = (await waitFor(earlyFailure, { ...FAST, message: 'a count' }).catch((error: unknown) => error)) as Error;
    expect(attempts).toBeGreaterThan(1);
    expect(rejection.message).toBe('timed out after 100 ms waiting for a count: the check last returned 0');

    // And the other way round: falsy first, then a failure that lasts.
    let calls = 0;
    const lateFailure = () => {
      calls += 1;
      if (calls === 1) return null;
      throw new Error(`late failure ${calls}`);
    };
    const late = (await waitFor(lateFailure, { ...FAST, message: 'a row' }).catch((error: unknown) => error)) as Error;
    expect(late.message).toBe(`timed out after 100 ms waiting for a row:\nlate failure ${calls}`);
  });
});
