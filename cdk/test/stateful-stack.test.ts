import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Match } from 'aws-cdk-lib/assertions';

import { resources, synthesize } from './support.ts';

const prod = synthesize('prod').statefulTemplate;
const dev = synthesize('dev').statefulTemplate;

describe('the stateful stack', () => {
  it('keeps orders in one on-demand table with recovery, its indexes and expiring idempotency keys', () => {
    prod.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: 'orderflow-prod-orders',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expires', Enabled: true },
      DeletionProtectionEnabled: true,
      GlobalSecondaryIndexes: Match.arrayWith([
        Match.objectLike({ IndexName: 'customer_orders', Projection: { ProjectionType: 'ALL' } }),
        Match.objectLike({ IndexName: 'all_orders', Projection: { ProjectionType: 'ALL' } }),
        Match.objectLike({ IndexName: 'pending_starts', Projection: { ProjectionType: 'KEYS_ONLY' } }),
      ]),
    });
    dev.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
  });

  it('retains production data when the stack goes, and lets a dev stage go', () => {
    prod.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    dev.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });

  it('keeps documents private, encrypted, versioned, reachable over TLS only, and labels for 180 days', () => {
    prod.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: Match.anyValue(),
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: 'documents/' },
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Prefix: 'labels/', ExpirationInDays: 180 })]) },
    });
    const policies = resources(prod, 'AWS::S3::BucketPolicy').map(([, policy]) => JSON.stringify(policy.Properties));
    assert.ok(policies.length >= 2 && policies.every((policy) => policy.includes('"aws:SecureTransport":"false"')), 'both buckets refuse plain HTTP');
  });

  it('has stable logical ids for what holds data', () => {
    const ids = Object.keys(prod.toJSON().Resources);
    for (const id of ['OrdersTable', 'DocumentsBucket', 'AccessLogsBucket', 'SenderIdentity']) assert.ok(ids.includes(id), `${id} in ${ids}`);
  });

  it('verifies the sender every email is from', () => {
    prod.hasResourceProperties('AWS::SES::EmailIdentity', { EmailIdentity: 'orders@shop.example' });
  });
});
