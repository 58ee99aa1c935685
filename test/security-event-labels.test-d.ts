import { expectTypeOf } from "vitest";
import type { UnlabelledActions } from "../src/pages/event-labels";

/**
 * Every audit action has a label in the English source: a compile-time check (`npm run typecheck`
 * names the kinds without one); test/security-event-labels.test.ts checks every language at run time.
 */
expectTypeOf<UnlabelledActions>().toBeNever();
