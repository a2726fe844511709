import type { ConnectRouter, ServiceImpl } from '@connectrpc/connect';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';
import { IngressService as UnqualifiedIngressService } from '../../gen/unqualified_aliases_pb.js';
import type { ServiceDefinition, ServiceDeps } from '../platform/start-service.js';
import { checkHeaders, checkSubject } from '../platform/validation.js';

/** Publish: validate, store (inline or object, then commit), answer the sequence. */
export function ingressRoutes({ store, metrics }: ServiceDeps): (router: ConnectRouter) => void {
  const impl: Partial<ServiceImpl<typeof IngressService>> = {
    async publish(request, context) {
      const subject = checkSubject(request.subject);
      const headers = checkHeaders(request.headers);
      const [result] = await store.publish([{ subject, data: request.data, headers }], context.signal);
      metrics.publishedBytes.inc(request.data.length);
      return { sequence: result!.sequence, objectName: result!.objectName, statusCode: 0n, errorMessage: '' };
    },
  };
  return (router) => {
    router.service(IngressService, impl);
    // Same handlers under the package-less name the deployment guide calls.
    router.service(UnqualifiedIngressService, impl);
  };
}

export const ingressService: ServiceDefinition = {
  name: 'ingress',
  services: [IngressService, UnqualifiedIngressService],
  routes: ingressRoutes,
};
