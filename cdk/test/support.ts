// Synthesizes a stage the way bin/app.ts does, from cdk.json's stages, for the assertions.

import * as fs from 'node:fs';
import * as path from 'node:path';

import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

import { addStages, type Deployment } from '../lib/orderflow.ts';

const cdkJson = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../cdk.json'), 'utf8')) as { context: Record<string, unknown> };

export interface Synthesized extends Deployment {
  stateful: Deployment['stateful'];
  statefulTemplate: Template;
  serviceTemplate: Template;
}

/** The stacks of `stage`, with `context` added to cdk.json's. */
export function synthesize(stage: string, context: Record<string, unknown> = {}): Synthesized {
  const app = new App({ analyticsReporting: false, context: { ...cdkJson.context, ...context, stage } });
  const [deployment] = addStages(app, undefined);
  return {
    ...deployment!,
    statefulTemplate: Template.fromStack(deployment!.stateful),
    serviceTemplate: Template.fromStack(deployment!.service),
  };
}

export type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[] };

/** The resources of `type` in `template`, by logical id. */
export function resources(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.findResources(type)) as [string, Resource][];
}

/** The IAM statements attached to the role `roleLogicalId`, from its policies. */
export function statementsOf(template: Template, roleLogicalId: string): { Action: string | string[]; Resource: unknown }[] {
  return resources(template, 'AWS::IAM::Policy')
    .filter(([, policy]) => (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleLogicalId))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement);
}

export const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
