import type { ConnectRouter, ServiceImpl } from '@connectrpc/connect';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';
import { IngressService as UnqualifiedIngressService } from '../../gen/unqualified_aliases_pb.js';
import type { ServiceDefinition, ServiceDeps } from '../platform/start-service.js';
import { observeCommits } from '../platform/store-metrics.js';
import { checkHeaders, checkSubject } from '../platform/validation.js';
import { checkBatch, payloadBytes } from './publish-batch.js';
import { publishStreamHandler } from './publish-stream.js';

/**
 * Publish: validate, store (inline or object, then commit), answer the sequence.
 * PublishBatch: the same for an atomic batch. PublishStream: see publish-stream.ts.
 */
export function ingressRoutes(deps: ServiceDeps): (router: ConnectRouter) => void {
  const { store, metrics, config } = deps;
  observeCommits(store, metrics, config.storage);
  const impl: ServiceImpl<typeof IngressService> = {
    async publish(request, context) {
      const subject = checkSubject(request.subject);
      const headers = checkHeaders(request.headers);
      const [result] = await store.publish([{ subject, data: request.data, headers }], context.signal);
      metrics.publishedBytes.inc(request.data.length);
      return { ...result!, statusCode: 0n, errorMessage: '' };
    },
    async publishBatch(request, context) {
      const results = await store.publish(checkBatch(request.messages, config.maxMessageBytes), context.signal);
      metrics.publishedBytes.inc(payloadBytes(request.messages));
      // Store results are PublishResponses: status_code 0 and error_message "" are the proto3 defaults.
      return { results };
    },
    publishStream: publishStreamHandler(deps),
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
