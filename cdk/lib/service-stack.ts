// What runs: one function per saga task, the API and the outbox sweeper, each with its own role;
// the order workflow from `state-machines/order.asl.json`; the HTTP API; the partners' keys; and
// the alarms, their topic and a dashboard.

import * as fs from 'node:fs';
import * as path from 'node:path';

import { Arn, ArnFormat, Aws, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secrets from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

import { acknowledge, acknowledgeWildcards } from './nag.ts';

import { API, type FunctionSpec, SWEEPER, WORKERS } from './functions.ts';
import { names } from './stateful-stack.ts';
import { creates, isProduction, type Stage } from './stage.ts';

/** The saga, the one file Step Functions and the local engine both run. */
export const ASL_PATH = path.resolve(import.meta.dirname, '../../state-machines/order.asl.json');

/** Where the Lambda zips are: `<dir>/<binary>/bootstrap.zip`, as `scripts/lambda-zips.sh` lays them out. */
export interface LambdaCode {
  /** The directory of the zips, or none: a placeholder asset that is not a Lambda. */
  zips?: string;
  architecture: lambda.Architecture;
}

export interface ServiceStackProps extends StackProps {
  stage: Stage;
  code: LambdaCode;
}

/** A placeholder for the functions' code when no zips were built: synthesis and its checks still run. */
const PLACEHOLDER = path.resolve(import.meta.dirname, '../placeholder-lambda');

export class ServiceStack extends Stack {
  readonly functions = new Map<string, lambda.Function>();
  readonly machine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    const { stage, code } = props;
    const production = isProduction(stage);
    const named = names(stage);
    const retention = production ? logs.RetentionDays.ONE_YEAR : logs.RetentionDays.ONE_MONTH;
    const removalPolicy = production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const arn = (service: string, resource: string, resourceName?: string, sep = ArnFormat.SLASH_RESOURCE_NAME) =>
      Arn.format({ service, resource, resourceName, arnFormat: sep }, this);

    const tableArn = arn('dynamodb', 'table', named.table);
    const bucketArn = `arn:${Aws.PARTITION}:s3:::${named.documents}`;
    const machineName = `orderflow-${stage.name}-order`;
    const machineArn = arn('states', 'stateMachine', machineName, ArnFormat.COLON_RESOURCE_NAME);

    // The partners' keys: created empty of meaning, set by an operator (`aws secretsmanager
    // put-secret-value`), read by the functions that call the partner, and only by them.
    const partnerKey = (id: string, name: string, description: string) => {
      const secret = new secrets.Secret(this, id, {
        secretName: `orderflow/${stage.name}/${name}`,
        description,
        removalPolicy,
      });
      acknowledge(secret, [
        { id: 'AwsSolutions-SMG4', reason: 'A partner issues and rotates this key in its own dashboard; Secrets Manager cannot rotate it.' },
      ]);
      return secret;
    };
    const keys = {
      stripe: stage.payments === 'stripe' ? partnerKey('StripeKey', 'stripe-secret-key', "Stripe's secret key (sk_live_… or rk_live_…).") : undefined,
      easypost: stage.carrier === 'easypost' ? partnerKey('EasyPostKey', 'easypost-api-key', "EasyPost's API key (EZAK…).") : undefined,
      stripeWebhook: stage.payments === 'stripe' ? partnerKey('StripeWebhookSecret', 'stripe-webhook-secret', "The signing secret of Stripe's webhook endpoint (whsec_…).") : undefined,
    };

    const emulated: Record<string, string> = stage.emulator
      ? { AWS_ENDPOINT_URL: stage.emulator.endpoint, S3_FORCE_PATH_STYLE: 'true', SIMULATOR_DIR: stage.emulator.simulatorDir }
      : {};
    const common = { PROFILE: stage.profile, TABLE_NAME: named.table, RUST_LOG: 'info', ...emulated };
    const partners: Record<string, string> = {
      PAYMENTS: stage.payments,
      CARRIER: stage.carrier,
      ...(keys.stripe ? { STRIPE_SECRET_ARN: keys.stripe.secretArn } : {}),
      ...(keys.easypost
        ? { EASYPOST_SECRET_ARN: keys.easypost.secretArn, SHIPPING_CARRIERS: stage.shippingCarriers, SHIP_FROM: JSON.stringify(stage.shipFrom) }
        : {}),
    };
    const seller: Record<string, string> = {
      MAIL_SENDER: stage.mailSender,
      SELLER_NAME: stage.seller.name,
      SELLER_ADDRESS: stage.seller.address,
      SELLER_TAX_ID: stage.seller.taxId,
      ...(stage.seller.website ? { SELLER_WEBSITE: stage.seller.website } : {}),
    };

    const assets = new Map<string, lambda.Code>();
    const codeOf = (binary: string): lambda.Code => {
      const zip = code.zips ? path.join(code.zips, binary, 'bootstrap.zip') : undefined;
      const key = zip ?? PLACEHOLDER;
      if (!assets.has(key)) assets.set(key, lambda.Code.fromAsset(key));
      return assets.get(key)!;
    };

    const build = (spec: FunctionSpec, environment: Record<string, string>): lambda.Function => {
      const logGroup = new logs.LogGroup(this, `${spec.id}Logs`, {
        logGroupName: `/aws/lambda/orderflow-${stage.name}-${spec.id}`,
        retention,
        removalPolicy,
      });
      const role = new iam.Role(this, `${spec.id}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `What orderflow-${stage.name}-${spec.id} reaches, and nothing else.`,
      });
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn],
        }),
      );
      grantReaches(role, spec, { tableArn, bucketArn, machineArn, machineName, keys, sender: stage.mailSender, arn });
      const fn = new lambda.Function(this, spec.id, {
        functionName: `orderflow-${stage.name}-${spec.id}`,
        description: spec.task ? `The saga task ${spec.task}.` : `The ${spec.binary}.`,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        architecture: code.architecture,
        handler: 'bootstrap',
        code: codeOf(spec.binary),
        memorySize: spec.memoryMb,
        timeout: Duration.seconds(spec.timeoutSeconds),
        role,
        logGroup,
        tracing: lambda.Tracing.ACTIVE,
        environment: { ...common, ...environment },
      });
      acknowledge(role, [{ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray accepts trace segments only on resource *.' }]);
      this.functions.set(spec.id, fn);
      return fn;
    };

    for (const spec of WORKERS) {
      build(spec, {
        TASK: spec.task!,
        DOCUMENTS_BUCKET: named.documents,
        ...partners,
        ...seller,
      });
    }

    // The saga: the one file, every `${…FunctionArn}` substituted by a worker's ARN.
    const substitutions = Object.fromEntries(WORKERS.map((spec) => [`${spec.id}FunctionArn`, this.functions.get(spec.id)!.functionArn]));
    const workflowLogs = new logs.LogGroup(this, 'WorkflowLogs', {
      logGroupName: `/aws/vendedlogs/states/${machineName}`,
      retention,
      removalPolicy,
    });
    this.machine = new sfn.StateMachine(this, 'OrderWorkflow', {
      stateMachineName: machineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromFile(ASL_PATH),
      definitionSubstitutions: substitutions,
      tracingEnabled: true,
      logs: creates(stage, 'AWS::Logs::LogGroup') ? { destination: workflowLogs, level: sfn.LogLevel.ALL, includeExecutionData: true } : undefined,
    });
    for (const spec of WORKERS) this.functions.get(spec.id)!.grantInvoke(this.machine);
    acknowledge(this.machine, [
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'Step Functions delivers logs and traces through actions that take only resource *.' },
    ]);
    acknowledgeWildcards(
      this.machine,
      WORKERS.map((spec) => `${this.functions.get(spec.id)!.functionArn}:*`),
      "The workflow invokes each task's function and its versions (function:name:*), as CDK grants it.",
    );

    const sweeper = build(SWEEPER, { STATE_MACHINE_ARN: machineArn });
    if (creates(stage, 'AWS::Events::Rule')) {
      // The outbox: an order whose start was lost is started within the minute.
      new events.Rule(this, 'SweepEveryMinute', {
        description: 'Starts the workflow of any accepted order whose start was lost.',
        schedule: events.Schedule.rate(Duration.minutes(1)),
        targets: [new targets.LambdaFunction(sweeper, { retryAttempts: 2 })],
      });
    }

    const api = build(API, {
      DOCUMENTS_BUCKET: named.documents,
      STATE_MACHINE_ARN: machineArn,
      ...(keys.stripeWebhook ? { STRIPE_WEBHOOK_SECRET_ARN: keys.stripeWebhook.secretArn } : {}),
    });
    const httpApi = this.httpApi(stage, api, retention, removalPolicy);

    if (creates(stage, 'AWS::CloudWatch::Alarm')) this.alarms(stage, httpApi);

    new CfnOutput(this, 'ApiId', { value: httpApi.apiId });
    new CfnOutput(this, 'ApiUrl', { value: `${httpApi.apiEndpoint}/live` });
    new CfnOutput(this, 'StateMachineArn', { value: this.machine.stateMachineArn });
    new CfnOutput(this, 'TraceAnOrder', {
      value: `https://${Aws.REGION}.console.aws.amazon.com/states/home?region=${Aws.REGION}#/v2/executions/details/arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:execution:${machineName}:<order id>`,
    });
  }

  /** The HTTP API: every route to the API function behind the JWT authorizer, but Stripe's webhook, which Stripe signs. */
  private httpApi(stage: Stage, api: lambda.Function, retention: logs.RetentionDays, removalPolicy: RemovalPolicy): apigw.HttpApi {
    const integration = new HttpLambdaIntegration('ApiIntegration', api, { payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0 });
    const authorizer = new HttpJwtAuthorizer('Customers', stage.jwt.issuer, {
      jwtAudience: stage.jwt.audience,
      identitySource: ['$request.header.Authorization'],
    });
    const httpApi = new apigw.HttpApi(this, 'HttpApi', {
      apiName: `orderflow-${stage.name}`,
      description: 'Orders: placed, read, re-addressed and cancelled by customers; read by operators.',
      createDefaultStage: false,
    });
    httpApi.addRoutes({ path: '/{proxy+}', methods: [apigw.HttpMethod.ANY], integration, authorizer });
    if (stage.payments === 'stripe') {
      httpApi.addRoutes({ path: '/webhooks/stripe', methods: [apigw.HttpMethod.POST], integration });
    }
    const accessLogs = creates(stage, 'AWS::Logs::LogGroup')
      ? new logs.LogGroup(this, 'ApiAccessLogs', { logGroupName: `/aws/apigateway/orderflow-${stage.name}`, retention, removalPolicy })
      : undefined;
    const live = new apigw.HttpStage(this, 'Live', {
      httpApi,
      stageName: 'live',
      autoDeploy: true,
      throttle: stage.throttle,
      accessLogSettings: accessLogs
        ? {
            destination: new apigw.LogGroupLogDestination(accessLogs),
            format: AccessLogFormat.custom(
              JSON.stringify({
                requestId: '$context.requestId',
                ip: '$context.identity.sourceIp',
                time: '$context.requestTime',
                method: '$context.httpMethod',
                path: '$context.path',
                status: '$context.status',
                latencyMs: '$context.responseLatency',
                integrationError: '$context.integrationErrorMessage',
                sub: '$context.authorizer.claims.sub',
              }),
            ),
          }
        : undefined,
    });
    acknowledge(
      httpApi,
      [{ id: 'AwsSolutions-APIG4', reason: "POST /webhooks/stripe has no authorizer: Stripe signs each delivery, and the API function verifies the signature before reading anything." }],
    );
    if (!accessLogs) {
      acknowledge(live, [
        { id: 'AwsSolutions-APIG1', reason: 'This deploy is to an emulator without CloudWatch Logs; every other stage logs access.' },
      ]);
    }
    return httpApi;
  }

  /** The alarms, the topic they notify, and a dashboard of the same metrics. */
  private alarms(stage: Stage, httpApi: apigw.HttpApi): void {
    const topic = new sns.Topic(this, 'Alarms', {
      topicName: `orderflow-${stage.name}-alarms`,
      displayName: `Orderflow ${stage.name} alarms`,
      enforceSSL: true,
      masterKey: kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
    });
    if (stage.alarmEmail) topic.addSubscription(new subscriptions.EmailSubscription(stage.alarmEmail));
    const notify = new actions.SnsAction(topic);
    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
      const made = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      made.addAlarmAction(notify);
      return made;
    };
    const fiveMinutes = { period: Duration.minutes(5) };
    alarm('ExecutionsFailed', this.machine.metricFailed(fiveMinutes), 1, 'An order workflow failed: a compensation kept failing, and the order needs a person.');
    alarm('ExecutionsTimedOut', this.machine.metricTimedOut(fiveMinutes), 1, 'An order workflow timed out.');
    for (const [id, fn] of this.functions) {
      alarm(`${id}Errors`, fn.metricErrors(fiveMinutes), 5, `${id} failed 5 times in 5 minutes (after its own error handling).`);
      alarm(`${id}Throttles`, fn.metricThrottles(fiveMinutes), 1, `${id} was throttled: raise its concurrency or the account's.`);
    }
    const api5xx = httpApi.metricServerError({ ...fiveMinutes, statistic: 'Sum' });
    alarm('Api5xx', api5xx, 5, 'The HTTP API answered 5xx 5 times in 5 minutes: bad input gets 4xx, so a 5xx is a defect or an outage.');
    const p99 = httpApi.metricLatency({ ...fiveMinutes, statistic: 'p99' });
    alarm('ApiLatencyP99', p99, 1000, 'The HTTP API p99 latency passed 1 s.');

    if (creates(stage, 'AWS::CloudWatch::Dashboard')) {
      const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: `orderflow-${stage.name}` });
      dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: 'Order workflows',
          left: [this.machine.metricStarted(fiveMinutes), this.machine.metricSucceeded(fiveMinutes), this.machine.metricFailed(fiveMinutes)],
        }),
        new cloudwatch.GraphWidget({ title: 'HTTP API', left: [httpApi.metricCount(fiveMinutes), api5xx], right: [p99] }),
      );
      dashboard.addWidgets(
        new cloudwatch.GraphWidget({ title: 'Function errors', left: [...this.functions.values()].map((fn) => fn.metricErrors(fiveMinutes)) }),
        new cloudwatch.GraphWidget({ title: 'Function p99 duration', left: [...this.functions.values()].map((fn) => fn.metricDuration({ ...fiveMinutes, statistic: 'p99' })) }),
      );
    }
  }
}

interface Granted {
  tableArn: string;
  bucketArn: string;
  machineArn: string;
  machineName: string;
  keys: { stripe?: secrets.Secret; easypost?: secrets.Secret; stripeWebhook?: secrets.Secret };
  sender: string;
  arn: (service: string, resource: string, resourceName?: string, sep?: ArnFormat) => string;
}

/** Grants `role` what `spec` says its code reaches, each on the one resource it is. */
function grantReaches(role: iam.Role, spec: FunctionSpec, granted: Granted): void {
  const { reaches } = spec;
  const allow = (actions: string[], resources: string[]) => role.addToPolicy(new iam.PolicyStatement({ actions, resources }));
  const items = ['dynamodb:GetItem', 'dynamodb:ConditionCheckItem'];
  if (reaches.table === 'read-write') items.push('dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem');
  allow(items, [granted.tableArn]);
  if (reaches.indexes?.length) {
    allow(['dynamodb:Query'], [granted.tableArn, ...reaches.indexes.map((index) => `${granted.tableArn}/index/${index}`)]);
  }
  const objects = (prefixes: readonly string[]) => {
    const resources = prefixes.map((prefix) => `${granted.bucketArn}/${prefix}*`);
    acknowledgeWildcards(role, resources, 'Documents are granted by their key prefix (invoices/, labels/), one object per order.');
    return resources;
  };
  if (reaches.documents?.read?.length) allow(['s3:GetObject'], objects(reaches.documents.read));
  if (reaches.documents?.write?.length) allow(['s3:PutObject'], objects(reaches.documents.write));
  if (reaches.sendsEmail) allow(['ses:SendEmail', 'ses:SendRawEmail'], [granted.arn('ses', 'identity', granted.sender)]);
  const secret = (key: secrets.Secret | undefined) => key && allow(['secretsmanager:GetSecretValue'], [key.secretArn]);
  if (reaches.stripe) secret(granted.keys.stripe);
  if (reaches.easypost) secret(granted.keys.easypost);
  if (reaches.stripeWebhook) secret(granted.keys.stripeWebhook);
  if (reaches.workflow) allow(['states:StartExecution'], [granted.machineArn]);
  if (reaches.workflow === 'start-and-read') {
    const executions = granted.arn('states', 'execution', `${granted.machineName}:*`, ArnFormat.COLON_RESOURCE_NAME);
    acknowledgeWildcards(role, [executions], "The API reads any execution of the order workflow: each is named after its order.");
    allow(['states:DescribeExecution', 'states:GetExecutionHistory'], [executions]);
  }
}

/** Makes the placeholder asset: a directory that says what it is, for synthesis without zips. */
export function ensurePlaceholder(): string {
  fs.mkdirSync(PLACEHOLDER, { recursive: true });
  fs.writeFileSync(
    path.join(PLACEHOLDER, 'PLACEHOLDER-NOT-A-LAMBDA.txt'),
    'No Lambda zips were built when this app was synthesized. Build them (scripts/lambda-zips.sh) and synthesize again before deploying.\n',
  );
  return PLACEHOLDER;
}
