/**
 * Structured server logs: one JSON object per line on stdout (stderr for errors), which is
 * what CloudWatch Logs Insights and `jq` read. Humans get readable output from the CLI,
 * not from here.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines all carry `fields` (a request id, a job name). */
  child(fields: Record<string, unknown>): Logger;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  level?: LogLevel | undefined;
  /** Where lines go; tests capture them here. */
  write?: ((line: string, level: LogLevel) => void) | undefined;
}

const defaultWrite = (line: string, level: LogLevel) =>
  (level === 'error' ? process.stderr : process.stdout).write(line + '\n');

export function createLogger(options: LoggerOptions = {}, bound: Record<string, unknown> = {}): Logger {
  const min = RANK[options.level ?? levelFromEnv()];
  const write = options.write ?? defaultWrite;
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < min) return;
    const line = { time: new Date().toISOString(), level, msg, ...bound, ...fields };
    write(JSON.stringify(line, errorReplacer), level);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

function levelFromEnv(): LogLevel {
  const level = process.env.LOG_LEVEL;
  return level === 'debug' || level === 'info' || level === 'warn' || level === 'error' ? level : 'info';
}

// Errors have no enumerable fields; log their name and message (stacks only at debug level
// would need a second pass, and a stack in a log line is rarely what an operator reads).
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/** A logger that drops everything, for tests that do not read logs. */
export const silentLogger: Logger = createLogger({ write: () => {} });
