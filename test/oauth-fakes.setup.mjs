// Global setup of the workers project: the loopback sign-in providers of `npm run fakes`
// (scripts/fake-oidc.mjs), started once in Node for the run. The worker under test reaches them
// over real HTTP (workerd's outbound fetch); test/external-sign-in.test.ts points OAUTH_PROVIDERS at
// them per request. What the tests need arrives through `inject("oauthFakes")`.
import { fakeProviderVars, startFakeServices } from "../scripts/fake-services.mjs";

/** @param {{ provide: (key: string, value: unknown) => void }} project */
export default async function setup(project) {
  const fakes = await startFakeServices();
  project.provide("oauthFakes", { url: fakes.url, issuers: fakes.issuers, ...fakeProviderVars(fakes) });
  return () => fakes.close();
}
