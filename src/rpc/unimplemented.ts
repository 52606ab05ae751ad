import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type ServiceImpl } from "@connectrpc/connect";

/**
 * Serves a service whose behaviour has not landed yet, so it is listed by reflection and
 * every method answers UNIMPLEMENTED naming what is missing, rather than a bare 404.
 */
export function registerUnimplemented(router: ConnectRouter, service: DescService, missing: string): void {
  const implementation: Record<string, () => never> = {};
  for (const method of service.methods) {
    implementation[method.localName] = () => {
      throw new ConnectError(
        `${service.typeName}/${method.name} is not implemented yet: ${missing}`,
        Code.Unimplemented,
      );
    };
  }
  // A generic DescService has no typed method names, hence the cast.
  router.service(service, implementation as unknown as Partial<ServiceImpl<DescService>>);
}
