/**
 * `orchestry`: the command line of the Orchestry API. Every failure ends with one line on
 * stderr, `error: <message> (<CODE>)`, and an exit code from EXIT (see --help).
 */
import { Command, CommanderError } from 'commander';
import packageJson from '../package.json' with { type: 'json' };
import { registerAppCommands } from './commands/apps.js';
import { registerConfigCommands } from './commands/config.js';
import { registerEventCommands } from './commands/events.js';
import { registerHealthCommands } from './commands/health.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerLogCommands } from './commands/logs.js';
import { registerMetricCommands } from './commands/metrics.js';
import { registerScalingCommands } from './commands/scaling.js';
import { CliError, EXIT, EXIT_CODES_HELP } from './errors.js';
import { ce } from './ui.js';

const ENVIRONMENT_HELP = `Configuration:
  ORCHESTRY_URL    the API (default http://127.0.0.1:8000)
  ORCHESTRY_TOKEN  the API key
  Both win over the config file (orchestry config set url=... token=...). Against a dev
  server on this machine, the admin key it keeps in .orchestry/admin-key is used by itself.
  NO_COLOR         no colours (they are off anyway when the output is not a terminal)`;

function buildProgram(): Command {
  const program = new Command('orchestry')
    .description('Run and autoscale web containers: the command line of the Orchestry API')
    .version(packageJson.version, '-V, --version')
    // Before the commands are added: they inherit these settings.
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error:/, ce.red('error:'))) })
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n\n${ENVIRONMENT_HELP}`);
  registerAppCommands(program);
  registerEventCommands(program);
  registerLogCommands(program);
  registerMetricCommands(program);
  registerScalingCommands(program);
  registerHealthCommands(program);
  registerKeyCommands(program);
  registerConfigCommands(program);
  return program;
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has printed its message (or the help, or the version) already.
    return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  }
  if (error instanceof CliError) {
    process.stderr.write(`${ce.red('error:')} ${error.message} (${error.code})\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${ce.red('error:')} ${message} (CLI_ERROR)\n`);
  if (process.env.ORCHESTRY_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return EXIT.API_ERROR;
}

// `orchestry ... | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(EXIT.OK);
  throw error;
});

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  process.exitCode = report(error);
}
