// Masking policy for sensitive wallet ids (SPEC §4.4). One function; the caller decides when it applies.
//
// Long ids keep a 4-char prefix and a 2-char suffix ("w-1234567889" -> "w-12****89"). Shorter ids reveal
// less, so that strictly less than half of the id is ever shown; ids of 1-2 chars reveal nothing. The mask
// is always exactly "****", so the masked form does not leak the id's length either.

const MASK = '****';

function revealed(length: number): { prefix: number; suffix: number } {
  if (length >= 12) return { prefix: 4, suffix: 2 };
  if (length >= 9) return { prefix: 2, suffix: 2 };
  if (length >= 6) return { prefix: 1, suffix: 1 };
  if (length >= 3) return { prefix: 1, suffix: 0 };
  return { prefix: 0, suffix: 0 };
}

/** Mask the middle of a wallet id, e.g. `w-1234567889` -> `w-12****89`. */
export function maskWalletId(id: string): string {
  const chars = Array.from(id); // code points, so a surrogate pair is never split
  const { prefix, suffix } = revealed(chars.length);
  return chars.slice(0, prefix).join('') + MASK + (suffix > 0 ? chars.slice(-suffix).join('') : '');
}

/** Roles that may see wallet ids unmasked. */
export const UNMASK_ROLE = 'ADMIN_AUDIT';

export function maySeeWalletIds(roles: readonly string[]): boolean {
  return roles.includes(UNMASK_ROLE);
}

/** Apply the policy to a nullable wallet id for a caller with `roles`. */
export function walletIdFor(roles: readonly string[], id: string | null): string | null {
  if (id === null) return null;
  return maySeeWalletIds(roles) ? id : maskWalletId(id);
}
