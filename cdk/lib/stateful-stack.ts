// What outlives a deploy: the orders table, the documents bucket, the sender's identity. Each
// has a stable logical id and a physical name the service stack derives from the stage alone, so
// the two stacks share no CloudFormation exports and the stateful one rarely changes.

import { Aws, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ses from 'aws-cdk-lib/aws-ses';
import type { Construct } from 'constructs';

import { acknowledge } from './nag.ts';

import { creates, isProduction, type Stage } from './stage.ts';

/** The names both stacks agree on, from the stage alone. */
export const names = (stage: Stage) => ({
  table: `orderflow-${stage.name}-orders`,
  documents: `orderflow-${stage.name}-documents-${Aws.ACCOUNT_ID}-${Aws.REGION}`,
  accessLogs: `orderflow-${stage.name}-access-logs-${Aws.ACCOUNT_ID}-${Aws.REGION}`,
});

/** The attribute DynamoDB expires items by: idempotency records carry it. */
export const EXPIRES_ATTRIBUTE = 'expires';

export interface StatefulStackProps extends StackProps {
  stage: Stage;
}

export class StatefulStack extends Stack {
  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);
    const { stage } = props;
    const production = isProduction(stage);
    // Production keeps its data when a stack is deleted; a dev stage is disposable.
    const removalPolicy = production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const named = names(stage);

    const table = new dynamodb.Table(this, 'Orders', {
      tableName: named.table,
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: production,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: EXPIRES_ATTRIBUTE,
      removalPolicy,
    });
    // The indexes the adapters query (adapters/aws/src/table.rs): a customer's orders and every
    // order, newest first; and the outbox's sparse index of workflows not yet started.
    const index = (indexName: string, partition: string, projectionType: dynamodb.ProjectionType) =>
      table.addGlobalSecondaryIndex({
        indexName,
        partitionKey: { name: partition, type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'placed', type: dynamodb.AttributeType.STRING },
        projectionType,
      });
    index('customer_orders', 'customer', dynamodb.ProjectionType.ALL);
    index('all_orders', 'listing', dynamodb.ProjectionType.ALL);
    index('pending_starts', 'pending', dynamodb.ProjectionType.KEYS_ONLY);
    (table.node.defaultChild as dynamodb.CfnTable).overrideLogicalId('OrdersTable');

    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      bucketName: named.accessLogs,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(production ? 365 : 30) }],
      removalPolicy,
    });
    (accessLogs.node.defaultChild as s3.CfnBucket).overrideLogicalId('AccessLogsBucket');
    acknowledge(accessLogs, [
      { id: 'AwsSolutions-S1', reason: 'This bucket is the access log of the documents bucket; logging it again would recurse.' },
    ]);

    const documents = new s3.Bucket(this, 'Documents', {
      bucketName: named.documents,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'documents/',
      lifecycleRules: [
        // Labels are useless once the parcel is delivered; invoices are kept (tax law).
        { id: 'labels', prefix: 'labels/', expiration: Duration.days(180), noncurrentVersionExpiration: Duration.days(30) },
        { id: 'old-versions', noncurrentVersionExpiration: Duration.days(90) },
      ],
      removalPolicy,
    });
    (documents.node.defaultChild as s3.CfnBucket).overrideLogicalId('DocumentsBucket');

    if (creates(stage, 'AWS::SES::EmailIdentity')) {
      const sender = new ses.EmailIdentity(this, 'Sender', { identity: ses.Identity.email(stage.mailSender) });
      (sender.node.defaultChild as ses.CfnEmailIdentity).overrideLogicalId('SenderIdentity');
    }

    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'DocumentsBucketName', { value: documents.bucketName });
  }
}
