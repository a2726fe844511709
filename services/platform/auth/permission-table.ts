/**
 * What a call needs: nothing (probes, reflection) or one of some permissions
 * on the request's subject. A listing names no subject: the caller needs the
 * permission, and the handler shows only the subjects it allows.
 */
export type AccessRule = { open: true } | { open: false; anyOf: readonly string[]; listing?: true };

const open: AccessRule = { open: true };
const publish: AccessRule = { open: false, anyOf: ['publish'] };
const subscribe: AccessRule = { open: false, anyOf: ['subscribe'] };
// Reading a consumer's position or messages is part of following a subject.
const read: AccessRule = { open: false, anyOf: ['fetch', 'subscribe'] };
/** Inspecting subjects and consumers needs `fetch` on each subject shown. */
export const inspectRule = { open: false, anyOf: ['fetch'] } as const satisfies AccessRule;
const listing: AccessRule = { ...inspectRule, listing: true };
// Consume of a configured consumer names no subject: its filters do, and the handler delivers only subjects the token may fetch.
const consume: AccessRule = { ...read, listing: true };
// Moving a consumer's position for someone else, or deleting messages, is an operator's act.
const admin: AccessRule = { open: false, anyOf: ['admin'] };
// Configuring consumers and redriving dead letters: the request names a configuration or a dead-letter subject, not a `subject`.
const adminNamingNoSubject: AccessRule = { ...admin, listing: true };

const ingress = { Publish: publish, PublishBatch: publish, PublishStream: publish };
const egress = {
  Subscribe: subscribe,
  Fetch: read,
  Consume: consume,
  GetLastSequence: read,
  AckMessage: read,
  AckMessages: read,
  ListSubjects: listing,
  GetSubjectInfo: inspectRule,
  ListConsumers: listing,
  // Listing: with no subject it is a configured consumer, shown if the token may fetch one of its subjects.
  GetConsumerInfo: listing,
  ResetConsumer: admin,
  Purge: admin,
  SetRetentionPolicy: admin,
  ListRetentionPolicies: admin,
  DeleteRetentionPolicy: admin,
  // Reading a page moves no consumer: inspection, not following.
  Browse: inspectRule,
  ConsumerLagHistory: listing,
  CreateConsumer: adminNamingNoSubject,
  UpdateConsumer: adminNamingNoSubject,
  DeleteConsumer: adminNamingNoSubject,
  Redrive: adminNamingNoSubject,
};

/**
 * Every RPC the services serve, by `service/method`. A method missing here
 * is refused (default deny), so a new RPC cannot be left open by accident;
 * the test beside this file walks the registered routes.
 */
const table: ReadonlyMap<string, AccessRule> = new Map([
  ...entries('minitoolstream.IngressService', ingress),
  ...entries('IngressService', ingress),
  ...entries('minitoolstream.EgressService', egress),
  ...entries('EgressService', egress),
  ...entries('grpc.health.v1.Health', { Check: open, Watch: open }),
  ...entries('grpc.reflection.v1.ServerReflection', { ServerReflectionInfo: open }),
  ...entries('grpc.reflection.v1alpha.ServerReflection', { ServerReflectionInfo: open }),
]);

function entries(service: string, methods: Record<string, AccessRule>): [string, AccessRule][] {
  return Object.entries(methods).map(([method, rule]) => [`${service}/${method}`, rule]);
}

/** The rule of one method, or undefined for a method nobody has decided about. */
export function accessRule(serviceTypeName: string, methodName: string): AccessRule | undefined {
  return table.get(`${serviceTypeName}/${methodName}`);
}

/** Whether `permissions` grant one of the rule's, `*` granting all. */
export function permitted(rule: { anyOf: readonly string[] }, permissions: ReadonlySet<string>): boolean {
  return permissions.has('*') || rule.anyOf.some((permission) => permissions.has(permission));
}
