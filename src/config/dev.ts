import { z } from "zod";
import { ConfigError, defineSection } from "./define";
import { mail } from "./mail";
import { web } from "./web";

/**
 * Switches for local development only: DEV_GEO_SIMULATION, DEV_FAULTS and DEV_LOOPBACK_LIMITS. (DEV_OUTBOX is
 * in mail.ts: it replaces the mail transport.)
 */
export const dev = defineSection({
  variables: {
    DEV_GEO_SIMULATION: {
      kind: "var",
      schema: z.string().optional(),
      doc: 'local development only: JSON settings of the far-from-primary simulation of `npm run bench -- --geo`, which sets it and runs its own entry, src/dev/geo-entry.ts (see "Far from the D1 primary"); ignored with a warning unless `DEV_OUTBOX` is on, `PUBLIC_URL` is loopback and the request is addressed to a loopback host',
    },
    DEV_FAULTS: {
      kind: "var",
      schema: z.string().optional(),
      doc: 'local development only: JSON failure rates (`{"d1":0.02,"durable_object":0.02,"kv":0.02,"queue":0.1}`, each 0 to 1) of the fault injection of `npm run soak`, which sets it and runs its own entry, src/dev/fault-entry.ts (see docs/operations.md "Soak with faults"); ignored with a warning unless `DEV_OUTBOX` is on, `PUBLIC_URL` is loopback and the request is addressed to a loopback host',
    },
    DEV_LOOPBACK_LIMITS: {
      kind: "var",
      schema: z.enum(["relaxed"]).optional(),
      shown: "unset",
      doc: "local development only (`npm run dev -- --site` sets it): `relaxed` multiplies every per-address limit by 100 for clients at a loopback address (127.0.0.0/8, ::1), so clicking around a local site is not refused; other addresses keep the configured limits. The worker refuses to start with it unless `DEV_OUTBOX` is on and `PUBLIC_URL` is a loopback host; `npm run preflight` refuses it",
    },
  },
  uses: { DEV_OUTBOX: mail.variables.DEV_OUTBOX, PUBLIC_URL: web.variables.PUBLIC_URL },
  read: (v) => {
    if (v.DEV_LOOPBACK_LIMITS !== undefined && !(v.DEV_OUTBOX && isLoopbackHost(new URL(v.PUBLIC_URL).hostname))) {
      throw new ConfigError(
        "invalid configuration: DEV_LOOPBACK_LIMITS is for local development only (needs DEV_OUTBOX and a loopback PUBLIC_URL)",
      );
    }
    return {
      /** Raw DEV_GEO_SIMULATION; honoured only in local dev (see src/dev/geo-simulation.ts). */
      devGeoSimulation: v.DEV_GEO_SIMULATION,
      /** Raw DEV_FAULTS; honoured only in local dev (see src/dev/fault-injection.ts). */
      devFaults: v.DEV_FAULTS,
      /** What per-address limits are multiplied by for a loopback client (1 unless DEV_LOOPBACK_LIMITS relaxes them). */
      loopbackLimitFactor: v.DEV_LOOPBACK_LIMITS === "relaxed" ? 100 : 1,
    };
  },
});

/**
 * A host name or address that can only mean this machine: localhost, *.localhost (RFC 6761),
 * 127/8 and ::1 (bracketed or not, IPv4-mapped or not). The one definition dev mode's checks share.
 */
export function isLoopbackHost(hostOrAddress: string): boolean {
  const host = hostOrAddress
    .replace(/^\[|\]$/g, "")
    .toLowerCase()
    .replace(/^::ffff:/, "");
  return host === "localhost" || host.endsWith(".localhost") || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}
