/**
 * The seed's AdminDataEncoder: JSON for values straight out of Prisma and pg. Dates become ISO
 * 8601 UTC, BigInt a number when it is exact (else a string), Prisma's Decimal a number, Buffers
 * base64. UUIDs already arrive as strings.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, replacer);
}

function replacer(this: unknown, key: string, value: unknown): unknown {
  // JSON.stringify calls Date#toJSON before the replacer sees the value; read the original.
  const original = (this as Record<string, unknown>)[key];
  if (original instanceof Date) return Number.isNaN(original.getTime()) ? null : original.toISOString();
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (isDecimal(value)) return value.toNumber();
  return value;
}

function isDecimal(value: unknown): value is { toNumber(): number } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { toNumber?: unknown }).toNumber === 'function' &&
    typeof (value as { toFixed?: unknown }).toFixed === 'function' &&
    (value as object).constructor?.name === 'Decimal'
  );
}

/** ISO string of a Date, or null. For hand-built section objects. */
export function iso(date: Date | null | undefined): string | null {
  return date ? date.toISOString() : null;
}
