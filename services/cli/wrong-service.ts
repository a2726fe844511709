import { Code, ConnectError, createClient, type Interceptor, type Transport } from '@connectrpc/connect';
import { Health } from '../../gen/grpc/health/v1/health_pb.js';
import { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';

type ServiceName = 'ingress' | 'egress';

const services: Record<ServiceName, { typeName: string; flag: string; variable: string; defaultPort: number }> = {
  ingress: { typeName: IngressService.typeName, flag: '--ingress', variable: 'MTS_INGRESS', defaultPort: 50051 },
  egress: { typeName: EgressService.typeName, flag: '--egress', variable: 'MTS_EGRESS', defaultPort: 50052 },
};

/**
 * Turns `unimplemented` from a URL that serves the other service into words:
 * "http://…:50051 is the ingress service, egress RPCs are on …". The other
 * service is recognised by asking the URL's gRPC health service about it.
 */
export function wrongServiceHint(expected: ServiceName, url: string, transport: () => Transport): Interceptor {
  const other: ServiceName = expected === 'ingress' ? 'egress' : 'ingress';
  return (next) => async (request) => {
    try {
      return await next(request);
    } catch (error) {
      if (!(error instanceof ConnectError) || error.code !== Code.Unimplemented) throw error;
      if (!(await serves(transport(), services[other].typeName))) throw error;
      const { flag, variable, defaultPort } = services[expected];
      throw new ConnectError(
        `${url} is the ${other} service, ${expected} RPCs are on the ${expected} service (port ${defaultPort} by default): ` +
          `give ${flag} URL, or set ${variable} or MTS_URL`,
        Code.Unimplemented,
      );
    }
  };
}

async function serves(transport: Transport, typeName: string): Promise<boolean> {
  try {
    await createClient(Health, transport).check({ service: typeName }, { timeoutMs: 2000 });
    return true;
  } catch {
    return false;
  }
}
