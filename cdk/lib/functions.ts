// The functions, one row each: which binary runs, and what the code in it reaches. The service
// stack grants each exactly that; `test/service-stack.test.ts` reads the grants back.

/** What a function's code uses, beyond its own logs. */
export interface Reaches {
  /** Items of the table (orders, reservations, invoice numbers, email claims). */
  table: 'read' | 'read-write';
  /** The table's indexes, by name, that it queries. */
  indexes?: readonly string[];
  /** Objects of the documents bucket, by key prefix. */
  documents?: { read?: readonly string[]; write?: readonly string[] };
  sendsEmail?: boolean;
  /** The partners whose keys it reads. */
  stripe?: boolean;
  easypost?: boolean;
  stripeWebhook?: boolean;
  /** Starts and reads the order workflow's executions. */
  workflow?: 'start' | 'start-and-read';
}

export interface FunctionSpec {
  /** The construct id, and what the ASL's `${<id>FunctionArn}` names. */
  id: string;
  /** The binary: `api`, `worker` or `sweeper` (the zip `<binary>/bootstrap.zip`). */
  binary: 'api' | 'worker' | 'sweeper';
  /** The saga task a worker runs (`TASK`). */
  task?: string;
  memoryMb: number;
  timeoutSeconds: number;
  reaches: Reaches;
}

const INVOICES = ['invoices/', 'credit-notes/'];
const LABELS = ['labels/'];

function worker(task: string, reaches: Omit<Reaches, 'table'>, timeoutSeconds = 30): FunctionSpec {
  return { id: task, binary: 'worker', task, memoryMb: 256, timeoutSeconds, reaches: { table: 'read-write', ...reaches } };
}

/** The saga's tasks: every `Resource` of `state-machines/order.asl.json` is one of these. */
export const WORKERS: readonly FunctionSpec[] = [
  worker('PriceOrder', {}),
  worker('ReserveStock', {}),
  worker('IssueInvoice', { documents: { write: INVOICES } }),
  worker('ChargePayment', { stripe: true }, 60),
  worker('ShipOrder', { easypost: true, documents: { write: LABELS } }, 90),
  worker('ReconcileShipment', { easypost: true, documents: { write: LABELS } }, 60),
  worker('NotifyCustomer', { sendsEmail: true, documents: { read: [...INVOICES, ...LABELS] } }),
  worker('NoteEmailFailure', {}),
  worker('RefundPayment', { stripe: true, easypost: true }, 60),
  worker('VoidInvoice', { easypost: true, documents: { write: INVOICES } }, 60),
  worker('ReleaseStock', { easypost: true }, 60),
  worker('CancelOrder', { easypost: true }, 60),
  worker('RecordCompensationFailure', { stripe: true, easypost: true }, 60),
];

export const API: FunctionSpec = {
  id: 'Api',
  binary: 'api',
  memoryMb: 512,
  // The HTTP API gives up after 30 s.
  timeoutSeconds: 29,
  reaches: {
    table: 'read-write',
    indexes: ['customer_orders', 'all_orders'],
    documents: { read: [...INVOICES, ...LABELS] },
    stripeWebhook: true,
    workflow: 'start-and-read',
  },
};

export const SWEEPER: FunctionSpec = {
  id: 'Sweeper',
  binary: 'sweeper',
  memoryMb: 256,
  timeoutSeconds: 60,
  reaches: { table: 'read-write', indexes: ['pending_starts'], workflow: 'start' },
};
