// Instantiates the stacks of each stage named by the context: `-c stage=prod` for one, every
// stage in cdk.json otherwise. Lambda code comes from `-c lambdaZips=<dir>` (or
// ORDERFLOW_LAMBDA_ZIPS), as `scripts/lambda-zips.sh` lays it out; without it, a placeholder.

import * as fs from 'node:fs';

import { App, DefaultStackSynthesizer, Tags } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Validations } from 'aws-cdk-lib';

import { ServiceStack, ensurePlaceholder } from '../lib/service-stack.ts';
import { StatefulStack } from '../lib/stateful-stack.ts';
import { stagesFrom } from '../lib/stage.ts';

const app = new App();
const zips = (app.node.tryGetContext('lambdaZips') as string | undefined) ?? process.env.ORDERFLOW_LAMBDA_ZIPS;
if (zips && !fs.existsSync(zips)) throw new Error(`lambdaZips: ${zips} does not exist`);
if (!zips) console.error(`Lambda code: a placeholder asset (${ensurePlaceholder()}); build the zips and pass -c lambdaZips=<dir> to deploy`);
else console.error(`Lambda code: the zips in ${zips}`);

for (const stage of stagesFrom(app.node)) {
  const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
  // An emulator has no bootstrap stack: its assets go to a bucket the deploy makes, and no
  // bootstrap version is checked.
  const synthesizer = stage.emulator
    ? new DefaultStackSynthesizer({ fileAssetsBucketName: 'orderflow-emulator-assets', generateBootstrapVersionRule: false })
    : undefined;
  const prefix = `Orderflow-${stage.name}`;
  new StatefulStack(app, `${prefix}-Stateful`, { stage, env, synthesizer, description: `Orderflow ${stage.name}: the orders table, the documents bucket, the sender identity.` });
  new ServiceStack(app, `${prefix}-Service`, {
    stage,
    env,
    synthesizer,
    description: `Orderflow ${stage.name}: the functions, the order workflow, the HTTP API, alarms.`,
    code: {
      zips,
      // AWS runs the arm64 zips; an emulator runs the host's.
      architecture: stage.emulator ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64,
    },
  });
}

Tags.of(app).add('application', 'orderflow');
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
