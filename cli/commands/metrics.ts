/** metrics NAME [--watch]: current values and small terminal charts of the recent history. */
import asciichart from 'asciichart';
import { Command } from 'commander';
import { seg } from '../api.js';
import { api, followOptions, outputOption, type FollowFlags, type OutputOptions } from '../context.js';
import { follow } from '../follow.js';
import { ago, c, num, print, printJson, printJsonLine, table } from '../ui.js';

interface HistoryPoint {
  timestamp: string;
  avg: number;
  min: number;
  max: number;
  count: number;
}

interface MetricsAnswer {
  app_name: string;
  interval: string;
  from: string;
  to: string;
  current: Record<string, { value: number; timestamp: string; container_id: string | null }>;
  history: Record<string, HistoryPoint[]>;
}

interface MetricsOptions extends OutputOptions, FollowFlags {
  interval?: string;
  history?: string;
  type?: string;
  watch?: boolean;
  charts: boolean;
}

/** The order people look at them in; other types follow alphabetically. */
const ORDER = ['rps', 'latency_p95', 'latency_p50', 'latency_p99', 'cpu_percent', 'memory_percent', 'active_connections', 'error_rate'];

const UNITS: Record<string, string> = {
  cpu_percent: '%',
  memory_percent: '%',
  disk_usage: '%',
  error_rate: '%',
  latency_p50: ' ms',
  latency_p95: ' ms',
  latency_p99: ' ms',
  response_time: ' ms',
  rps: ' req/s',
  memory_bytes: ' B',
};

const rank = (type: string) => (ORDER.includes(type) ? ORDER.indexOf(type) : ORDER.length);
const byRank = (a: string, b: string) => rank(a) - rank(b) || a.localeCompare(b);

const CHART_HEIGHT = 6;
/** Room the chart's axis labels take at the left. */
const AXIS_WIDTH = 12;

function chart(type: string, points: HistoryPoint[], interval: string, history: string): string {
  const columns = Math.max(20, (process.stdout.columns ?? 80) - AXIS_WIDTH);
  const values = points.slice(-columns).map((p) => p.avg);
  const low = Math.min(...values);
  const high = Math.max(...values);
  const unit = UNITS[type] ?? '';
  const title = `${c.bold(type)} ${c.dim(`avg per ${interval} over the last ${history}: ${num(low)}–${num(high)}${unit}`)}`;
  if (values.length < 2) return `${title}\n  (one point so far)`;
  const plot = asciichart.plot(values, {
    height: CHART_HEIGHT,
    // A flat line gets a visible band instead of a collapsed axis.
    ...(low === high ? { min: Math.max(0, low - 1), max: high + 1 } : {}),
    format: (x: number) => num(x).padStart(AXIS_WIDTH - 3),
  });
  return `${title}\n${plot
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')}`;
}

function render(answer: MetricsAnswer, options: MetricsOptions): void {
  const types = Object.keys(answer.current).sort(byRank);
  print(`${c.bold(answer.app_name)} ${c.dim(`metrics at ${answer.to}`)}`);
  if (types.length === 0) {
    print('no metrics yet (they arrive once replicas run and traffic flows)');
  } else {
    print(
      table(
        ['METRIC', 'VALUE', 'AGE'],
        types.map((type) => {
          const m = answer.current[type]!;
          return [type, num(m.value, UNITS[type] ?? ''), ago(m.timestamp)];
        }),
      ),
    );
  }
  if (!options.charts) return;
  for (const type of Object.keys(answer.history).sort(byRank)) {
    const points = answer.history[type]!;
    if (points.length === 0) continue;
    print();
    print(chart(type, points, answer.interval, options.history ?? '1h'));
  }
}

async function metrics(name: string, options: MetricsOptions): Promise<void> {
  const client = await api();
  const query = { interval: options.interval, history: options.history, type: options.type };
  const fetchMetrics = () => client.get<MetricsAnswer>(`/apps/${seg(name)}/metrics`, query);
  if (!options.watch) {
    const answer = await fetchMetrics();
    return options.output === 'json' ? printJson(answer) : render(answer, options);
  }
  let first = true;
  await follow(
    async () => {
      const answer = await fetchMetrics();
      if (options.output === 'json') return printJsonLine(answer);
      // On a terminal each refresh replaces the last; elsewhere they follow one another.
      if (process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
      else if (!first) print();
      first = false;
      render(answer, options);
    },
    { intervalMs: options.pollInterval, maxPolls: options.maxPolls },
  );
}

export function registerMetricCommands(program: Command): void {
  const command = program
    .command('metrics')
    .description("an app's current metrics, with charts of the recent history")
    .argument('<name>', 'the app')
    .option('--interval <duration>', 'width of each history point: 30s, 1m, 5m, 1h', '1m')
    .option('--history <duration>', 'how far back the charts go: 15m, 1h, 1d', '1h')
    .option('--type <types>', 'only these metric types, comma-separated (e.g. rps,cpu_percent)')
    .option('--no-charts', 'only the current values')
    .option('-w, --watch', 'refresh every 2 s until Ctrl-C')
    .addOption(outputOption());
  for (const option of followOptions()) command.addOption(option);
  command.action(metrics);
}
