// The stacks of each stage the context names, and the checks every synthesis runs.

import * as fs from 'node:fs';

import { type App, DefaultStackSynthesizer, Tags, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';

import { ServiceStack, ensurePlaceholder } from './service-stack.ts';
import { StatefulStack } from './stateful-stack.ts';
import { type Stage, stagesFrom } from './stage.ts';

export interface Deployment {
  stage: Stage;
  stateful: StatefulStack;
  service: ServiceStack;
}

/**
 * Adds both stacks of every stage the app's context names. Lambda code comes from `zips`
 * (`<dir>/<binary>/bootstrap.zip`); without it, a placeholder asset, and the output says so.
 */
export function addStages(app: App, zips: string | undefined): Deployment[] {
  if (zips && !fs.existsSync(zips)) throw new Error(`lambdaZips: ${zips} does not exist`);
  if (!zips) console.error(`Lambda code: a PLACEHOLDER asset (${ensurePlaceholder()}): build the zips and pass -c lambdaZips=<dir> to deploy`);
  else console.error(`Lambda code: the zips in ${zips}`);

  const deployments = stagesFrom(app.node).map((stage) => {
    const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
    // An emulator has no bootstrap stack: its assets go to a bucket the deploy makes, and no
    // bootstrap version is checked.
    const synthesizer = stage.emulator
      ? new DefaultStackSynthesizer({ fileAssetsBucketName: 'orderflow-emulator-assets', generateBootstrapVersionRule: false })
      : undefined;
    const prefix = `Orderflow-${stage.name}`;
    const stateful = new StatefulStack(app, `${prefix}-Stateful`, {
      stage,
      env,
      synthesizer,
      description: `Orderflow ${stage.name}: the orders table, the documents bucket, the sender identity.`,
    });
    const service = new ServiceStack(app, `${prefix}-Service`, {
      stage,
      env,
      synthesizer,
      description: `Orderflow ${stage.name}: the functions, the order workflow, the HTTP API, alarms.`,
      // AWS runs the arm64 zips; an emulator runs the host's.
      code: { zips, architecture: stage.emulator ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64 },
    });
    // The service stack reads the stateful stack's resources by name: deploy that one first.
    service.addStackDependency(stateful);
    return { stage, stateful, service };
  });

  Tags.of(app).add('application', 'orderflow');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return deployments;
}
