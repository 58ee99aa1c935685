import { AppError, type FieldError } from "../errors";

/** zod issues → the problem's `errors` list; never the raw zod result. */
function fieldErrors(issues: readonly { path: readonly PropertyKey[]; message: string }[]): FieldError[] {
  return issues.map((issue) => ({
    field: issue.path.map(String).join(".") || "body",
    message: issue.message,
  }));
}

/** Every route's validation failure: 422 `validation_failed` with one entry per field. */
export function validationHook(result: {
  success: boolean;
  error?: { issues: readonly { path: readonly PropertyKey[]; message: string }[] };
}): void {
  if (!result.success) throw new AppError("validation_failed", { errors: fieldErrors(result.error?.issues ?? []) });
}
