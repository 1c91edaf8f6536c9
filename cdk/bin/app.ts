// The app: both stacks of each stage the context names (`-c stage=prod` for one, every stage in
// cdk.json otherwise). Lambda code: `-c lambdaZips=<dir>` or ORDERFLOW_LAMBDA_ZIPS, as
// `scripts/lambda-zips.sh` lays the zips out.

import { App } from 'aws-cdk-lib';

import { addStages } from '../lib/orderflow.ts';

const app = new App({ analyticsReporting: false });
addStages(app, (app.node.tryGetContext('lambdaZips') as string | undefined) ?? process.env.ORDERFLOW_LAMBDA_ZIPS);
