import { z } from "zod";
import { defineSection } from "./define";

/**
 * Switches for local development only: DEV_GEO_SIMULATION. (DEV_OUTBOX is in mail.ts: it
 * replaces the mail transport.)
 */
export const dev = defineSection({
  variables: {
    DEV_GEO_SIMULATION: {
      kind: "var",
      schema: z.string().optional(),
      doc: 'local development only: JSON settings of the far-from-primary simulation of `npm run bench -- --geo`, which sets it and runs its own entry, src/dev/geo-entry.ts (see "Far from the D1 primary"); ignored with a warning unless `DEV_OUTBOX` is on, `PUBLIC_URL` is loopback and the request is addressed to a loopback host',
    },
  },
  read: (v) => ({
    /** Raw DEV_GEO_SIMULATION; honoured only in local dev (see src/dev/geo-simulation.ts). */
    devGeoSimulation: v.DEV_GEO_SIMULATION,
  }),
});
