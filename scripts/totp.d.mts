export function base32Decode(text: string): Uint8Array;
export function currentStep(): number;
export function totpCode(secret: string, step?: number): string;
