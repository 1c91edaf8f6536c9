// Acknowledging cdk-nag findings: each with its reason in one sentence, on the construct it is
// about and everything under it.

import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

export interface Acknowledgement {
  /** The rule, or one finding of it: `AwsSolutions-IAM5[Resource::*]`. */
  id: string;
  reason: string;
}

export function acknowledge(construct: IConstruct, acknowledgements: Acknowledgement[]): void {
  for (const scope of construct.node.findAll()) {
    for (const acknowledgement of acknowledgements) Validations.of(scope).acknowledge(acknowledgement);
  }
}

/**
 * Acknowledges AwsSolutions-IAM5 for each of `resources` (ARNs ending in a wildcard) on
 * `construct`: cdk-nag reports each wildcard resource as its own finding, named by the resource
 * as the template spells it (`<Logical.Arn>`, `<AWS::Region>`).
 */
export function acknowledgeWildcards(construct: IConstruct, resources: string[], reason: string): void {
  const stack = Stack.of(construct);
  acknowledge(
    construct,
    resources.map((resource) => ({ id: `AwsSolutions-IAM5[Resource::${asNagShowsIt(stack.resolve(resource))}]`, reason })),
  );
}

/** A resolved CloudFormation value as cdk-nag prints it in a finding. */
function asNagShowsIt(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const intrinsic = value as Record<string, unknown>;
    if (typeof intrinsic.Ref === 'string') return `<${intrinsic.Ref}>`;
    const getAtt = intrinsic['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${getAtt.join('.')}>`;
    const join = intrinsic['Fn::Join'];
    if (Array.isArray(join)) return (join[1] as unknown[]).map(asNagShowsIt).join(join[0] as string);
  }
  return JSON.stringify(value);
}
