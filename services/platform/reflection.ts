import { create, createRegistry, toBinary, type DescFile, type DescService, type MessageInitShape } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import type { ConnectRouter } from '@connectrpc/connect';
import * as v1 from '../../gen/grpc/reflection/v1/reflection_pb.js';
import * as v1alpha from '../../gen/grpc/reflection/v1alpha/reflection_pb.js';

type Answer = MessageInitShape<typeof v1.ServerReflectionResponseSchema>['messageResponse'];

// gRPC status codes used inside reflection error responses.
const NOT_FOUND = 5;
const UNIMPLEMENTED = 12;

/**
 * gRPC server reflection, v1 and v1alpha, answered from the generated
 * descriptors so `grpcurl list` and `buf curl` work without a schema. Files
 * are sent with their transitive imports, importing file last-to-first as
 * clients expect none in particular.
 */
export function reflectionRoutes(services: DescService[]): (router: ConnectRouter) => void {
  const all = [...services, v1.ServerReflection, v1alpha.ServerReflection];
  const files = new Map<string, DescFile>();
  const collect = (file: DescFile) => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    file.dependencies.forEach(collect);
  };
  all.forEach((service) => collect(service.file));
  const registry = createRegistry(...files.values());
  const serviceNames = all.map((service) => service.typeName);

  const fileOfSymbol = (symbol: string): DescFile | undefined => {
    const found = registry.get(symbol);
    if (found) return found.file;
    // A method or field name: look up its service or message.
    const parent = symbol.slice(0, symbol.lastIndexOf('.'));
    return parent === '' ? undefined : registry.get(parent)?.file;
  };

  const answer = (request: v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest): Answer => {
    const ask = request.messageRequest;
    switch (ask.case) {
      case 'listServices':
        return { case: 'listServicesResponse', value: { service: serviceNames.map((name) => ({ name })) } };
      case 'fileByFilename':
        return withImports(files.get(ask.value), `file ${ask.value}`);
      case 'fileContainingSymbol':
        return withImports(fileOfSymbol(ask.value), `symbol ${ask.value}`);
      case 'fileContainingExtension':
      case 'allExtensionNumbersOfType':
        return failure(NOT_FOUND, 'this server registers no extensions');
      default:
        return failure(UNIMPLEMENTED, 'unsupported reflection request');
    }
  };

  return (router) => {
    router.service(v1.ServerReflection, {
      async *serverReflectionInfo(requests) {
        for await (const request of requests) {
          yield create(v1.ServerReflectionResponseSchema, { originalRequest: request, messageResponse: answer(request) });
        }
      },
    });
    router.service(v1alpha.ServerReflection, {
      async *serverReflectionInfo(requests) {
        for await (const request of requests) {
          // v1alpha is field for field the same protocol as v1.
          yield create(v1alpha.ServerReflectionResponseSchema, {
            originalRequest: request,
            messageResponse: answer(request),
          } as MessageInitShape<typeof v1alpha.ServerReflectionResponseSchema>);
        }
      },
    });
  };
}

function withImports(file: DescFile | undefined, what: string): Answer {
  if (!file) return failure(NOT_FOUND, `${what} not found`);
  const ordered: DescFile[] = [];
  const visit = (f: DescFile) => {
    if (ordered.includes(f)) return;
    ordered.push(f);
    f.dependencies.forEach(visit);
  };
  visit(file);
  return {
    case: 'fileDescriptorResponse',
    value: { fileDescriptorProto: ordered.map((f) => toBinary(FileDescriptorProtoSchema, f.proto)) },
  };
}

function failure(errorCode: number, errorMessage: string): Answer {
  return { case: 'errorResponse', value: { errorCode, errorMessage } };
}
