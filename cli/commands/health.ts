/** health NAME [--check]: each replica's health, or a probe of every replica now. */
import { Command } from 'commander';
import { seg } from '../api.js';
import { api, outputOption, type OutputOptions } from '../context.js';
import { ago, c, fields, num, print, printJson, status, table } from '../ui.js';

interface AppHealth {
  app_name: string;
  health_check: { enabled: boolean; protocol: string; path: string | null; port: number; period_seconds: number | null } | null;
  summary: Record<string, number>;
  replicas: Array<{
    id: string;
    name: string;
    replica_index: number;
    status: string;
    health: string;
    last_health_check: string | null;
    consecutive_failures: number;
    failure_count: number;
  }>;
}

interface ProbeReport {
  app_name: string;
  probed_at: string;
  checks_enabled: boolean;
  recorded: boolean;
  replicas: Array<{
    container_id: string;
    replica_index: number;
    ok: boolean;
    status_code: number | null;
    response_time_ms: number | null;
    error: string | null;
    previous_health: string;
    health: string;
    changed: boolean;
  }>;
}

function describeCheck(check: AppHealth['health_check']): string {
  if (!check) return 'none';
  if (!check.enabled) return c.yellow('disabled');
  const target = check.protocol === 'TCP' ? `TCP port ${check.port}` : `${check.protocol} ${check.path ?? '/'} on port ${check.port}`;
  return `${target}, every ${check.period_seconds ?? '-'} s`;
}

async function show(name: string, options: OutputOptions): Promise<void> {
  const client = await api();
  const answer = await client.get<AppHealth>(`/apps/${seg(name)}/health`);
  if (options.output === 'json') return printJson(answer);
  const counts = Object.entries(answer.summary)
    .filter(([, count]) => count > 0)
    .map(([health, count]) => `${count} ${status(health)}`);
  print(fields([['Check', describeCheck(answer.health_check)], ['Replicas', counts.length > 0 ? counts.join(', ') : 'none']]));
  if (answer.replicas.length === 0) return;
  print();
  print(
    table(
      ['REPLICA', 'CONTAINER', 'STATUS', 'HEALTH', 'LAST CHECK', 'FAILURES IN A ROW', 'FAILURES'],
      answer.replicas.map((replica) => [
        replica.replica_index,
        replica.name,
        status(replica.status),
        status(replica.health),
        replica.last_health_check ? `${ago(replica.last_health_check)} ago` : 'never',
        replica.consecutive_failures,
        replica.failure_count,
      ]),
    ),
  );
}

async function check(name: string, options: OutputOptions): Promise<void> {
  const client = await api();
  const answer = await client.post<ProbeReport>(`/apps/${seg(name)}/health/check`);
  if (options.output === 'json') return printJson(answer);
  if (!answer.checks_enabled) print(c.yellow(`health checks are disabled for ${name}: the results are shown, not acted on`));
  if (answer.replicas.length === 0) return print('no running replicas to probe');
  print(
    table(
      ['REPLICA', 'CONTAINER', 'RESULT', 'HTTP', 'TIME', 'HEALTH', 'ERROR'],
      answer.replicas.map((replica) => [
        replica.replica_index,
        replica.container_id,
        replica.ok ? c.green('ok') : c.red('failed'),
        replica.status_code ?? '-',
        num(replica.response_time_ms, ' ms'),
        replica.changed ? `${replica.previous_health} → ${status(replica.health)}` : status(replica.health),
        replica.error ?? '',
      ]),
    ),
  );
}

export function registerHealthCommands(program: Command): void {
  program
    .command('health')
    .description("the health of an app's replicas")
    .argument('<name>', 'the app')
    .option('--check', 'probe every running replica now, instead of showing the last results')
    .addOption(outputOption())
    .action((name: string, options: OutputOptions & { check?: boolean }) => (options.check ? check(name, options) : show(name, options)));
}
