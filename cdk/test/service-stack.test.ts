import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';

import { Match } from 'aws-cdk-lib/assertions';

import { API, SWEEPER, WORKERS } from '../lib/functions.ts';
import { ASL_PATH } from '../lib/service-stack.ts';
import { asList, resources, statementsOf, synthesize } from './support.ts';

const prod = synthesize('prod');
const template = prod.serviceTemplate;
const stack = prod.service;

/** The logical id of the function `id` and of its role. */
function logicalIds(id: string): { fn: string; role: string } {
  const fn = stack.getLogicalId(stack.functions.get(id)!.node.defaultChild as never);
  const role = (template.toJSON().Resources[fn].Properties.Role['Fn::GetAtt'] as string[])[0]!;
  return { fn, role };
}

/** Every action the function `id` may take, with the resources of each statement, as the template says. */
function grants(id: string): Map<string, unknown[]> {
  const granted = new Map<string, unknown[]>();
  for (const statement of statementsOf(template, logicalIds(id).role)) {
    for (const action of asList(statement.Action)) granted.set(action, [...(granted.get(action) ?? []), ...asList(statement.Resource)]);
  }
  return granted;
}

const json = (value: unknown) => JSON.stringify(value);
const secretRef = (id: string) => json({ Ref: stack.getLogicalId(stack.node.findChild(id).node.defaultChild as never) });

describe('the service stack', () => {
  it('gives every task of the saga its own function, arm64 on provided.al2023, with X-Ray tracing', () => {
    const asl = fs.readFileSync(ASL_PATH, 'utf8');
    const tasks = new Set([...asl.matchAll(/"Resource":\s*"\$\{(\w+)FunctionArn\}"/g)].map((match) => match[1]));
    assert.deepEqual([...tasks].sort(), WORKERS.map((spec) => spec.id).sort());
    for (const spec of [...WORKERS, API, SWEEPER]) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: `orderflow-prod-${spec.id}`,
        Runtime: 'provided.al2023',
        Architectures: ['arm64'],
        Handler: 'bootstrap',
        MemorySize: spec.memoryMb,
        Timeout: spec.timeoutSeconds,
        TracingConfig: { Mode: 'Active' },
        Environment: { Variables: Match.objectLike(spec.task ? { TASK: spec.task, PROFILE: 'production' } : { PROFILE: 'production' }) },
      });
    }
  });

  it('substitutes every ${…} of the state machine file, and nothing it does not use', () => {
    const asl = fs.readFileSync(ASL_PATH, 'utf8');
    const placeholders = new Set([...asl.matchAll(/\$\{(\w+)\}/g)].map((match) => match[1]));
    const [[, machine]] = resources(template, 'AWS::StepFunctions::StateMachine');
    const substitutions = machine!.Properties.DefinitionSubstitutions as Record<string, { 'Fn::GetAtt': [string, string] }>;
    assert.deepEqual(Object.keys(substitutions).sort(), [...placeholders].sort());
    for (const [name, value] of Object.entries(substitutions)) {
      assert.equal(value['Fn::GetAtt'][0], logicalIds(name.replace(/FunctionArn$/, '')).fn, `${name} is the ARN of its task's function`);
    }
  });

  it('runs a Standard workflow named per stage, from the file, logging everything and tracing', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'orderflow-prod-order',
      StateMachineType: 'STANDARD',
      DefinitionS3Location: Match.anyValue(),
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true, Destinations: Match.anyValue() },
      TracingConfiguration: { Enabled: true },
    });
  });

  it('never grants an action wildcard, and a resource wildcard only to X-Ray and log delivery', () => {
    const roles = [...WORKERS, API, SWEEPER].map((spec) => logicalIds(spec.id).role);
    const [[machineRole]] = resources(template, 'AWS::IAM::Role').filter(([id]) => id.startsWith('OrderWorkflowRole'));
    for (const role of [...roles, machineRole!]) {
      for (const statement of statementsOf(template, role)) {
        for (const action of asList(statement.Action)) assert.ok(!action.includes('*'), `${role} may ${action}`);
        if (asList(statement.Resource).includes('*')) {
          const allowed = asList(statement.Action).every((action) => action.startsWith('xray:') || action.startsWith('logs:'));
          assert.ok(allowed, `${role} has resource * for ${json(statement.Action)}`);
        }
      }
    }
  });

  it("grants each function exactly what its code reaches, each on its one resource", () => {
    const chargePayment = grants('ChargePayment');
    assert.deepEqual(chargePayment.get('secretsmanager:GetSecretValue')?.map(json), [secretRef('StripeKey')]);
    assert.equal(chargePayment.has('s3:PutObject'), false);
    assert.equal(chargePayment.has('ses:SendEmail'), false);

    const shipOrder = grants('ShipOrder');
    assert.deepEqual(shipOrder.get('secretsmanager:GetSecretValue')?.map(json), [secretRef('EasyPostKey')]);
    assert.match(json(shipOrder.get('s3:PutObject')), /\/labels\/\*/);
    assert.doesNotMatch(json(shipOrder.get('s3:PutObject')), /invoices/);

    const priceOrder = grants('PriceOrder');
    assert.deepEqual([...priceOrder.keys()].filter((action) => !action.startsWith('logs:') && !action.startsWith('xray:')).sort(), [
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    assert.match(json(priceOrder.get('dynamodb:GetItem')), /table\/orderflow-prod-orders"/);

    const notify = grants('NotifyCustomer');
    assert.match(json(notify.get('ses:SendEmail')), /identity\/orders@shop\.example/);
    assert.deepEqual(notify.get('s3:PutObject'), undefined, 'it reads documents, it does not write them');

    const api = grants('Api');
    assert.deepEqual(api.get('secretsmanager:GetSecretValue')?.map(json), [secretRef('StripeWebhookSecret')]);
    assert.match(json(api.get('states:StartExecution')), /stateMachine:orderflow-prod-order/);
    assert.match(json(api.get('dynamodb:Query')), /index\/customer_orders/);
    assert.equal(api.has('dynamodb:Scan'), false);

    const sweeper = grants('Sweeper');
    assert.match(json(sweeper.get('dynamodb:Query')), /index\/pending_starts/);
    assert.equal(sweeper.has('states:GetExecutionHistory'), false);

    for (const spec of WORKERS) {
      const secrets = json(grants(spec.id).get('secretsmanager:GetSecretValue') ?? []);
      assert.equal(secrets.includes(secretRef('StripeKey')), Boolean(spec.reaches.stripe), `${spec.id} and Stripe's key`);
      assert.equal(secrets.includes(secretRef('EasyPostKey')), Boolean(spec.reaches.easypost), `${spec.id} and EasyPost's key`);
    }
  });

  it('keeps every log for a year in production, and a month elsewhere', () => {
    for (const [id, group] of resources(template, 'AWS::Logs::LogGroup')) assert.equal(group.Properties.RetentionInDays, 365, id);
    for (const [id, group] of resources(synthesize('dev').serviceTemplate, 'AWS::Logs::LogGroup')) assert.equal(group.Properties.RetentionInDays, 30, id);
  });

  it('routes everything through the JWT authorizer but Stripe\'s signed webhook, throttled and access-logged', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: 'https://auth.shop.example/', Audience: ['orderflow'] },
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'ANY /{proxy+}', AuthorizationType: 'JWT' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /webhooks/stripe', AuthorizationType: 'NONE' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: 'live',
      DefaultRouteSettings: { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
  });

  it('sweeps the outbox every minute', () => {
    const sweeper = logicalIds('Sweeper').fn;
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [sweeper, 'Arn'] } })],
    });
  });

  it('alarms on failed and timed-out workflows, every function\'s errors and throttles, and the API\'s 5xx and p99, to an encrypted topic', () => {
    const alarms = resources(template, 'AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
    const [[topic]] = resources(template, 'AWS::SNS::Topic');
    const metric = (namespace: string, name: string) => alarms.filter((alarm) => alarm.Namespace === namespace && alarm.MetricName === name);
    assert.equal(metric('AWS/States', 'ExecutionsFailed').length, 1);
    assert.equal(metric('AWS/States', 'ExecutionsTimedOut').length, 1);
    assert.equal(metric('AWS/Lambda', 'Errors').length, WORKERS.length + 2);
    assert.equal(metric('AWS/Lambda', 'Throttles').length, WORKERS.length + 2);
    assert.equal(metric('AWS/ApiGateway', '5xx').length, 1);
    assert.equal(metric('AWS/ApiGateway', 'Latency')[0]?.ExtendedStatistic, 'p99');
    for (const alarm of alarms) assert.deepEqual(alarm.AlarmActions, [{ Ref: topic }]);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@shop.example' });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('shares nothing with the stateful stack through exports', () => {
    assert.deepEqual(Object.keys(prod.statefulTemplate.toJSON().Outputs ?? {}).filter((key) => key.startsWith('Export')), []);
    assert.equal(json(template.toJSON()).includes('Fn::ImportValue'), false);
  });
});

describe('a stage', () => {
  it('refuses production with a simulated partner, naming why', () => {
    assert.throws(() => synthesize('prod', { 'orderflow:stages': { prod: { ...prodStage(), carrier: 'simulator' } } }), /production ships through EasyPost/);
  });

  it('for an emulator leaves out the resource types it names, and nothing else', () => {
    const emulator = synthesize('emulator', {
      emulatorEndpoint: 'http://127.0.0.1:4566',
      jwtIssuer: 'http://127.0.0.1:9000',
      jwtAudience: 'orderflow-e2e',
      simulatorDir: '/tmp/orderflow',
      emulatorLeaveOut: 'AWS::CloudWatch::Alarm,AWS::SES::EmailIdentity',
    });
    emulator.serviceTemplate.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    emulator.statefulTemplate.resourceCountIs('AWS::SES::EmailIdentity', 0);
    emulator.serviceTemplate.resourceCountIs('AWS::Lambda::Function', WORKERS.length + 2);
    emulator.serviceTemplate.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['x86_64'],
      Environment: { Variables: Match.objectLike({ AWS_ENDPOINT_URL: 'http://127.0.0.1:4566', PAYMENTS: 'simulator', CARRIER: 'simulator' }) },
    });
  });
});

function prodStage(): Record<string, unknown> {
  const cdkJson = JSON.parse(fs.readFileSync(new URL('../cdk.json', import.meta.url), 'utf8'));
  return cdkJson.context['orderflow:stages'].prod;
}
