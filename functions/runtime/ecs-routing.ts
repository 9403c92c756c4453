/**
 * The ALB side of the ECS runtime: one IP target group per app and one host-header rule on
 * the stage's listener forwarding `<app>.*` to it. Everything is found by a name (derived from
 * the stage and the app) or a priority derived from the app name, so a second or concurrent
 * call converges on the same resources instead of making new ones.
 */
import { createHash } from 'node:crypto';
import type { ElasticLoadBalancingV2Client, Rule } from '@aws-sdk/client-elastic-load-balancing-v2';
import { OrchestryError } from '../core/errors.js';
import { awsErrorName, tolerating, type AwsCaller } from './ecs-aws.js';
import { TAG_APP, TAG_STAGE } from './ecs-task-definition.js';

// Imported dynamically so that an ESM bundle does not hoist it to its top (see ./ecs.js).
const {
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DeleteRuleCommand,
  DeleteTargetGroupCommand,
  DeregisterTargetsCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ModifyRuleCommand,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
} = await import('@aws-sdk/client-elastic-load-balancing-v2');

const TARGET_GROUP_NAME_MAX = 32;
const NAME_HASH_LENGTH = 10;
/** ALB listener rule priorities are 1..50000. */
const PRIORITY_RANGE = 50_000;
/** Orchestry drains a replica itself before stopping it; the ALB only needs to finish what is in flight. */
export const DEREGISTRATION_DELAY_SECONDS = 5;
/** Placeholder port: every target is registered with its own port. */
const TARGET_GROUP_PORT = 80;
const MAX_RULE_ATTEMPTS = 5;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * `orch-<app prefix>-<hash of stage and app>`, at most 32 characters: readable in the console,
 * unique per stage and app (target group names are unique per account and region, so two
 * stages must not derive the same one). The stage is in the hash only: there is no room to
 * spell out a stage of any length beside the app, and a truncated one could not be told apart
 * from another stage's. The `orchestry:stage` tag says which stage a group belongs to.
 */
export function targetGroupName(stage: string, app: string): string {
  // '/' is in neither a stage nor an app name, so no other pair hashes the same text.
  const hash = sha256(`${stage}/${app}`).slice(0, NAME_HASH_LENGTH);
  const room = TARGET_GROUP_NAME_MAX - 'orch-'.length - 1 - NAME_HASH_LENGTH;
  const prefix = app.slice(0, room).replace(/-+$/, '');
  return prefix ? `orch-${prefix}-${hash}` : `orch-${hash}`;
}

/** The priorities an app's rule tries, in order: a hash-derived start, then the next free ones. */
export function rulePriority(app: string, usedPriorities: ReadonlySet<number>): number {
  const start = parseInt(sha256(app).slice(0, 8), 16) % PRIORITY_RANGE;
  for (let step = 0; step < PRIORITY_RANGE; step += 1) {
    const priority = ((start + step) % PRIORITY_RANGE) + 1;
    if (!usedPriorities.has(priority)) return priority;
  }
  throw new OrchestryError('RUNTIME_ERROR', 'The ALB listener has no free rule priority left', { limit: PRIORITY_RANGE });
}

const forwardsTo = (rule: Rule, targetGroupArn: string) =>
  (rule.Actions ?? []).some(
    (action) =>
      action.TargetGroupArn === targetGroupArn ||
      (action.ForwardConfig?.TargetGroups ?? []).some((group) => group.TargetGroupArn === targetGroupArn),
  );

/** The app's rule, whichever target group it forwards to now (its own, or the activator's while at zero). */
const isRuleOf = (rule: Rule, app: string) =>
  (rule.Conditions ?? []).some((condition) => (condition.HostHeaderConfig?.Values ?? condition.Values ?? []).includes(`${app}.*`));

export interface RoutingSettings {
  stage: string;
  vpcId: string;
  listenerArn: string;
  /** The shared activator's target group (a Lambda target): where an app at zero is routed. */
  activatorTargetGroupArn?: string | undefined;
}

export class EcsRouting {
  private readonly targetGroupArns = new Map<string, string>();

  constructor(
    private readonly settings: RoutingSettings,
    private readonly elb: ElasticLoadBalancingV2Client,
    private readonly call: AwsCaller,
  ) {}

  async ensureApp(app: string): Promise<void> {
    await this.ensureRouting(app);
  }

  async removeApp(app: string): Promise<void> {
    this.targetGroupArns.delete(app);
    const targetGroupArn = await this.findTargetGroup(app);
    if (targetGroupArn === undefined) return;
    for (const rule of await this.listRules()) {
      if (!rule.RuleArn || !(forwardsTo(rule, targetGroupArn) || isRuleOf(rule, app))) continue;
      const ruleArn = rule.RuleArn;
      await tolerating(
        ['RuleNotFoundException'],
        this.call('DeleteRule', () => this.elb.send(new DeleteRuleCommand({ RuleArn: ruleArn }))),
      );
    }
    // Right after its rule goes, the ALB may still call the group in use for a moment.
    await tolerating(
      ['TargetGroupNotFoundException'],
      this.call('DeleteTargetGroup', () => this.elb.send(new DeleteTargetGroupCommand({ TargetGroupArn: targetGroupArn })), {
        alsoRetry: ['ResourceInUseException'],
      }),
    );
    this.targetGroupArns.delete(app);
  }

  async register(app: string, ip: string, port: number): Promise<void> {
    const send = async () => {
      const targetGroupArn = (await this.findTargetGroup(app)) ?? (await this.ensureRouting(app));
      await this.call('RegisterTargets', () =>
        this.elb.send(new RegisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: [{ Id: ip, Port: port }] })),
      );
    };
    try {
      await send();
    } catch (error) {
      if (awsErrorName(error) !== 'TargetGroupNotFoundException') throw error;
      // The remembered group was removed by another process: make the app's routing again.
      this.targetGroupArns.delete(app);
      await send();
    }
  }

  async deregister(app: string, ip: string, port: number): Promise<void> {
    const targetGroupArn = await this.findTargetGroup(app);
    if (targetGroupArn === undefined) return;
    const result = await tolerating(
      ['TargetGroupNotFoundException', 'InvalidTargetException'],
      this.call('DeregisterTargets', () =>
        this.elb.send(new DeregisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: [{ Id: ip, Port: port }] })),
      ),
    );
    if (result === undefined) this.targetGroupArns.delete(app);
  }

  /**
   * Points the app's listener rule at the activator (while the app is at zero) or back at its
   * own target group (once a replica there is healthy). Idempotent: a rule already pointing
   * there is left alone, and two calls at once both end with the same action.
   */
  async pointRule(app: string, to: 'activator' | 'replicas'): Promise<void> {
    const activator = this.settings.activatorTargetGroupArn;
    if (!activator) {
      throw new OrchestryError('RUNTIME_ERROR', 'No activator target group is configured (ORCHESTRY_ACTIVATOR_TARGET_GROUP_ARN): an app at zero could not be woken', { app_name: app });
    }
    const targetGroupArn = to === 'activator' ? activator : ((await this.findTargetGroup(app)) ?? (await this.ensureRouting(app)));
    const rule = (await this.listRules()).find((r) => isRuleOf(r, app));
    if (!rule?.RuleArn) {
      if (to === 'activator') {
        throw new OrchestryError('RUNTIME_ERROR', `App '${app}' has no ALB listener rule to point at the activator`, { app_name: app });
      }
      await this.ensureRule(app, targetGroupArn);
      return;
    }
    if (forwardsTo(rule, targetGroupArn)) return;
    const ruleArn = rule.RuleArn;
    await this.call('ModifyRule', () =>
      this.elb.send(new ModifyRuleCommand({ RuleArn: ruleArn, Actions: [{ Type: 'forward', TargetGroupArn: targetGroupArn }] })),
    );
  }

  /** A target the ALB finds healthy in the app's own group, or null while there is none. */
  async healthyTarget(app: string): Promise<{ ip: string; port: number } | null> {
    const targetGroupArn = await this.findTargetGroup(app);
    if (targetGroupArn === undefined) return null;
    const health = await this.call('DescribeTargetHealth', () =>
      this.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn })),
    );
    const healthy = (health.TargetHealthDescriptions ?? []).find((d) => d.TargetHealth?.State === 'healthy' && d.Target?.Id && d.Target.Port);
    return healthy ? { ip: healthy.Target!.Id!, port: healthy.Target!.Port! } : null;
  }

  private async ensureRouting(app: string): Promise<string> {
    const targetGroupArn = await this.ensureTargetGroup(app);
    await this.ensureRule(app, targetGroupArn);
    return targetGroupArn;
  }

  private async findTargetGroup(app: string): Promise<string | undefined> {
    const known = this.targetGroupArns.get(app);
    if (known !== undefined) return known;
    const found = await tolerating(
      ['TargetGroupNotFoundException'],
      this.call('DescribeTargetGroups', () =>
        this.elb.send(new DescribeTargetGroupsCommand({ Names: [targetGroupName(this.settings.stage, app)] })),
      ),
    );
    const arn = found?.TargetGroups?.[0]?.TargetGroupArn;
    if (arn !== undefined) this.targetGroupArns.set(app, arn);
    return arn;
  }

  private async ensureTargetGroup(app: string): Promise<string> {
    let arn = await this.findTargetGroup(app);
    if (arn === undefined) {
      // CreateTargetGroup with the same name and settings answers the existing group, so a race is harmless.
      const created = await this.call('CreateTargetGroup', () =>
        this.elb.send(
          new CreateTargetGroupCommand({
            Name: targetGroupName(this.settings.stage, app),
            TargetType: 'ip',
            Protocol: 'HTTP',
            Port: TARGET_GROUP_PORT,
            VpcId: this.settings.vpcId,
            HealthCheckProtocol: 'HTTP',
            HealthCheckPath: '/',
            // Orchestry's own prober decides health; the ALB only drops targets that do not answer or fail with 5xx.
            Matcher: { HttpCode: '200-499' },
            HealthCheckIntervalSeconds: 10,
            HealthCheckTimeoutSeconds: 5,
            HealthyThresholdCount: 2,
            UnhealthyThresholdCount: 3,
            Tags: [
              { Key: TAG_APP, Value: app },
              { Key: TAG_STAGE, Value: this.settings.stage },
            ],
          }),
        ),
      );
      arn = created.TargetGroups?.[0]?.TargetGroupArn;
      if (arn === undefined) {
        throw new OrchestryError('RUNTIME_ERROR', `CreateTargetGroup answered no target group for app '${app}'`, { app_name: app });
      }
      this.targetGroupArns.set(app, arn);
    }
    // Set on every ensure, so a crash between create and this call is repaired by the next one.
    const targetGroupArn = arn;
    await this.call('ModifyTargetGroupAttributes', () =>
      this.elb.send(
        new ModifyTargetGroupAttributesCommand({
          TargetGroupArn: targetGroupArn,
          Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: String(DEREGISTRATION_DELAY_SECONDS) }],
        }),
      ),
    );
    return targetGroupArn;
  }

  private async ensureRule(app: string, targetGroupArn: string): Promise<void> {
    for (let attempt = 1; attempt <= MAX_RULE_ATTEMPTS; attempt += 1) {
      const rules = await this.listRules();
      if (rules.some((rule) => forwardsTo(rule, targetGroupArn) || isRuleOf(rule, app))) return;
      const used = new Set(rules.map((rule) => Number(rule.Priority)).filter(Number.isInteger));
      const priority = rulePriority(app, used);
      const created = await tolerating(
        ['PriorityInUseException'],
        this.call('CreateRule', () =>
          this.elb.send(
            new CreateRuleCommand({
              ListenerArn: this.settings.listenerArn,
              Priority: priority,
              Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: [`${app}.*`] } }],
              Actions: [{ Type: 'forward', TargetGroupArn: targetGroupArn }],
              Tags: [
                { Key: TAG_APP, Value: app },
                { Key: TAG_STAGE, Value: this.settings.stage },
              ],
            }),
          ),
        ),
      );
      // Taken meanwhile (by this app's own concurrent call, or another app): look again.
      if (created !== undefined) return;
    }
    throw new OrchestryError('RUNTIME_ERROR', `Could not create the ALB listener rule for app '${app}': every priority tried was taken`, {
      app_name: app,
      attempts: MAX_RULE_ATTEMPTS,
    });
  }

  private async listRules(): Promise<Rule[]> {
    const rules: Rule[] = [];
    let marker: string | undefined;
    do {
      const page = await this.call('DescribeRules', () =>
        this.elb.send(new DescribeRulesCommand({ ListenerArn: this.settings.listenerArn, PageSize: 400, Marker: marker })),
      );
      rules.push(...(page.Rules ?? []));
      marker = page.NextMarker;
    } while (marker);
    return rules;
  }
}
