// A stage's settings, from the app's context (`orderflow:stages` in cdk.json), checked before
// anything is built: a deploy with a missing detail fails at synth, not at the first order.

import type { Node } from 'constructs';

/** Where the warehouse is: an order address's fields. */
export interface Address {
  name: string;
  line1: string;
  line2?: string;
  city: string;
  region?: string;
  postalCode: string;
  country: string;
}

export interface Stage {
  /** `dev`, `prod`, or `emulator` (the deploy the test command makes to ministack). */
  name: string;
  /** `production` refuses simulated partners and placeholder details (the functions check too). */
  profile: 'development' | 'production';
  payments: 'stripe' | 'simulator';
  carrier: 'easypost' | 'simulator';
  /** EasyPost's carriers, preferred first: `DHLExpress, FedEx:FEDEX_GROUND`. */
  shippingCarriers: string;
  shipFrom: Address;
  /** The From of every email: an address of the SES identity this stage verifies. */
  mailSender: string;
  seller: { name: string; address: string; taxId: string; website?: string };
  /** The OpenID issuer whose tokens the HTTP API accepts, and the audiences it takes. */
  jwt: { issuer: string; audience: string[] };
  /** Who the alarms' topic emails; none, no subscription. */
  alarmEmail: string | null;
  /** The HTTP API stage's steady rate and burst, requests a second. */
  throttle: { rateLimit: number; burstLimit: number };
  /** Set for a deploy to an emulator: what differs there. */
  emulator?: Emulator;
}

/** A deploy to an emulator (ministack): its endpoint, and the resource types it does not know. */
export interface Emulator {
  /** Where the functions reach the emulated AWS (`AWS_ENDPOINT_URL`). */
  endpoint: string;
  /** Where the simulated partners keep their ledgers, shared by the functions' processes. */
  simulatorDir: string;
  /** CloudFormation types left out of this deploy, covered by assertion tests instead. */
  leaveOut: ReadonlySet<string>;
}

export const isProduction = (stage: Stage): boolean => stage.profile === 'production';

/** Whether this deploy creates resources of the CloudFormation `type`. */
export const creates = (stage: Stage, type: string): boolean => !stage.emulator?.leaveOut.has(type);

/** The stages named by the context: `-c stage=<name>` for one, every configured stage otherwise. */
export function stagesFrom(node: Node): Stage[] {
  const configured = node.tryGetContext('orderflow:stages') as Record<string, unknown> | undefined;
  if (!configured) throw new Error('cdk.json has no `orderflow:stages` context');
  const wanted = node.tryGetContext('stage') as string | undefined;
  if (wanted === 'emulator') return [emulatorStage(node, configured)];
  const names = wanted ? [wanted] : Object.keys(configured);
  return names.map((name) => {
    const raw = configured[name];
    if (!raw) throw new Error(`there is no stage \`${name}\` in orderflow:stages (${Object.keys(configured).join(', ')})`);
    return checked(name, raw as Omit<Stage, 'name'>);
  });
}

/**
 * The stage the test command deploys to ministack: dev's settings with simulated partners (on
 * ministack the functions are local processes sharing one ledger directory), the emulator's
 * endpoint, and the test's own token issuer.
 */
function emulatorStage(node: Node, configured: Record<string, unknown>): Stage {
  const need = (key: string): string => {
    const value = node.tryGetContext(key) as string | undefined;
    if (!value) throw new Error(`-c stage=emulator needs -c ${key}=...`);
    return value;
  };
  const leaveOut = ((node.tryGetContext('emulatorLeaveOut') as string | undefined) ?? '')
    .split(',')
    .map((type) => type.trim())
    .filter(Boolean);
  const dev = configured.dev as Omit<Stage, 'name'>;
  return checked('emulator', {
    ...dev,
    profile: 'development',
    payments: 'simulator',
    carrier: 'simulator',
    // The sender the ministack suite reads its emails back by.
    mailSender: 'orders@shop.example',
    jwt: { issuer: need('jwtIssuer'), audience: [need('jwtAudience')] },
    alarmEmail: null,
    emulator: { endpoint: need('emulatorEndpoint'), simulatorDir: need('simulatorDir'), leaveOut: new Set(leaveOut) },
  });
}

function checked(name: string, raw: Omit<Stage, 'name'>): Stage {
  const stage: Stage = { name, ...raw };
  const problems: string[] = [];
  if (!/^[a-z][a-z0-9-]{1,15}$/.test(name)) problems.push('the name is 2-16 lowercase letters, digits or dashes');
  if (!['development', 'production'].includes(stage.profile)) problems.push('profile is development or production');
  if (isProduction(stage)) {
    if (stage.payments !== 'stripe') problems.push('production takes payments through Stripe');
    if (stage.carrier !== 'easypost') problems.push('production ships through EasyPost');
    if (!stage.alarmEmail) problems.push('production alarms must reach someone: set alarmEmail');
    if (!stage.jwt.issuer.startsWith('https://')) problems.push('production trusts an https token issuer');
  }
  if (stage.carrier === 'easypost' && !stage.shippingCarriers.trim()) problems.push('shippingCarriers is empty');
  if (!stage.mailSender.includes('@')) problems.push('mailSender is an email address');
  if (stage.jwt.audience.length === 0) problems.push('jwt.audience names at least one audience');
  if (problems.length > 0) throw new Error(`stage ${name}: ${problems.join('; ')}`);
  return stage;
}
