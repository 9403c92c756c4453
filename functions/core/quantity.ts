/**
 * CPU and memory quantities as people write them ("500m", "0.5", "512Mi", "1G") turned into
 * the integers the runtimes take (millicores, bytes), and back for display.
 */

export type QuantityResult = { ok: true; value: number } | { ok: false; message: string };

/** Docker refuses less than 0.01 CPUs; 16 vCPUs is the largest Fargate task. */
export const MIN_CPU_MILLIS = 10;
export const MAX_CPU_MILLIS = 16_000;

const KI = 1024;
const MI = KI * 1024;
const GI = MI * 1024;
/** Docker refuses memory limits under 6 MiB; 120 GiB is the largest Fargate task. */
export const MIN_MEMORY_BYTES = 6 * MI;
export const MAX_MEMORY_BYTES = 120 * GI;

const CPU_FORMS = 'use cores ("0.5", 0.5, "2") or millicores ("500m")';
const MEMORY_FORMS = 'use a number of bytes or a quantity like 512Mi, 1Gi, 500M';

const show = (input: unknown) => (typeof input === 'string' ? JSON.stringify(input) : String(input));

/** Parses CPU as cores (number or decimal string) or millicores ("250m") into whole millicores. */
export function parseCpu(input: unknown): QuantityResult {
  let millis: number;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return { ok: false, message: `${show(input)} is not a CPU quantity; ${CPU_FORMS}` };
    millis = input * 1000;
    // Float noise (0.1 * 1000 = 100.00000000000001) is not a request for a fraction of a millicore.
    if (Math.abs(millis - Math.round(millis)) > 1e-6) {
      return { ok: false, message: `${show(input)} is finer than 1 millicore; use at most 3 decimals` };
    }
    millis = Math.round(millis);
  } else if (typeof input === 'string') {
    const text = input.trim();
    const milli = /^(-?\d+)m$/.exec(text);
    const cores = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
    if (milli) {
      millis = Number(milli[1]);
    } else if (cores) {
      const fraction = cores[3] ?? '';
      if (fraction.replace(/0+$/, '').length > 3) {
        return { ok: false, message: `${show(input)} is finer than 1 millicore; use at most 3 decimals or millicores ("500m")` };
      }
      millis = Number(cores[2]) * 1000 + Number(fraction.padEnd(3, '0').slice(0, 3));
      if (cores[1] === '-') millis = -millis;
    } else {
      return { ok: false, message: `${show(input)} is not a CPU quantity; ${CPU_FORMS}` };
    }
  } else {
    return { ok: false, message: `${input === null ? 'null' : typeof input} is not a CPU quantity; ${CPU_FORMS}` };
  }
  if (millis <= 0) return { ok: false, message: `${show(input)}: CPU must be more than 0; ${CPU_FORMS}` };
  if (millis < MIN_CPU_MILLIS) return { ok: false, message: `${show(input)} is below the minimum of 10m (0.01 cores)` };
  if (millis > MAX_CPU_MILLIS) return { ok: false, message: `${show(input)} is above the maximum of 16 cores (16000m)` };
  return { ok: true, value: millis };
}

const MEMORY_UNITS: Record<string, bigint> = {
  '': 1n,
  k: 1000n,
  K: 1000n,
  M: 1000n ** 2n,
  G: 1000n ** 3n,
  T: 1000n ** 4n,
  Ki: 1024n,
  Mi: 1024n ** 2n,
  Gi: 1024n ** 3n,
  Ti: 1024n ** 4n,
};

/** Parses memory as bytes (number or digits) or a quantity with a K/M/G/T or Ki/Mi/Gi/Ti suffix. */
export function parseMemory(input: unknown): QuantityResult {
  let bytes: number;
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input)) {
      return { ok: false, message: `${show(input)} is not a whole number of bytes; ${MEMORY_FORMS}` };
    }
    bytes = input;
  } else if (typeof input === 'string') {
    const match = /^(-?)(\d+)(?:\.(\d+))?(Ki|Mi|Gi|Ti|k|K|M|G|T)?$/.exec(input.trim());
    if (!match) return { ok: false, message: `${show(input)} is not a memory size; ${MEMORY_FORMS}${unitHint(input)}` };
    const fraction = match[3] ?? '';
    const scale = 10n ** BigInt(fraction.length);
    // Exact arithmetic: "1.1M" is 1100000 bytes, not 1100000.0000000002.
    const scaled = (BigInt(match[2]!) * scale + BigInt(fraction || '0')) * MEMORY_UNITS[match[4] ?? '']!;
    if (scaled % scale !== 0n) return { ok: false, message: `${show(input)} is not a whole number of bytes; ${MEMORY_FORMS}` };
    const whole = scaled / scale;
    bytes = whole > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(whole);
    if (match[1] === '-') bytes = -bytes;
  } else {
    return { ok: false, message: `${input === null ? 'null' : typeof input} is not a memory size; ${MEMORY_FORMS}` };
  }
  if (bytes <= 0) return { ok: false, message: `${show(input)}: memory must be more than 0; ${MEMORY_FORMS}` };
  if (bytes < MIN_MEMORY_BYTES) {
    const hint = typeof input === 'number' && input < 1024 * 1024 ? ` (a plain number is bytes; did you mean "${input}Mi"?)` : '';
    return { ok: false, message: `${show(input)} is below the minimum of 6Mi (${MIN_MEMORY_BYTES} bytes)${hint}` };
  }
  if (bytes > MAX_MEMORY_BYTES) return { ok: false, message: `${show(input)} is above the maximum of 120Gi` };
  return { ok: true, value: bytes };
}

/** "512MB", "1GiB", "512mi": say which of our spellings was probably meant. */
function unitHint(input: string): string {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt])(i?)b?\s*$/i.exec(input);
  if (!match) return '';
  const letter = match[2]!.toUpperCase();
  return match[3]
    ? ` (did you mean "${match[1]}${letter}i"?)`
    : ` (did you mean "${match[1]}${letter}i" (binary) or "${match[1]}${letter}" (decimal)?)`;
}

/** 500 → "500m", 2000 → "2". */
export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

/** 536870912 → "512Mi"; sizes that are not a whole number of a binary unit stay in bytes. */
export function formatMemory(bytes: number): string {
  for (const [suffix, size] of [['Ti', 1024 ** 4], ['Gi', GI], ['Mi', MI], ['Ki', KI]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${suffix}`;
  }
  return String(bytes);
}
