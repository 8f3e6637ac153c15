import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskWalletId, maySeeWalletIds, walletIdFor } from '../../../api/mask';

describe('maskWalletId', () => {
  it('keeps a 4-char prefix and 2-char suffix of long ids', () => {
    expect(maskWalletId('w-1234567889')).toBe('w-12****89');
    expect(maskWalletId('wallet-000000000042')).toBe('wall****42');
  });

  it('reveals less of shorter ids and nothing of tiny ones', () => {
    expect(maskWalletId('w-12345678')).toBe('w-****78'); // 10 chars: 2 + 2
    expect(maskWalletId('abcdef')).toBe('a****f');
    expect(maskWalletId('w-1')).toBe('w****');
    expect(maskWalletId('ab')).toBe('****');
    expect(maskWalletId('a')).toBe('****');
    expect(maskWalletId('')).toBe('****');
  });

  it('never returns the id itself and shows strictly less than half of it', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 128 }), (id) => {
        const masked = maskWalletId(id);
        expect(masked).not.toBe(id);
        expect(masked).toContain('****');
        const shown = Array.from(masked).length - 4;
        const len = Array.from(id).length;
        if (len < 12) expect(shown * 2).toBeLessThan(len);
        expect(shown).toBeLessThanOrEqual(6);
      }),
    );
  });

  it('does not split a surrogate pair', () => {
    expect(maskWalletId('😀😀😀😀😀😀😀😀😀😀😀😀')).toBe('😀😀😀😀****😀😀');
  });
});

describe('role policy', () => {
  it('unmasks only for ADMIN_AUDIT', () => {
    expect(maySeeWalletIds(['ADMIN_AUDIT'])).toBe(true);
    expect(maySeeWalletIds(['ADMIN_READ'])).toBe(false);
    expect(walletIdFor(['ADMIN_READ'], 'w-1234567889')).toBe('w-12****89');
    expect(walletIdFor(['ADMIN_READ', 'ADMIN_AUDIT'], 'w-1234567889')).toBe('w-1234567889');
    expect(walletIdFor(['ADMIN_READ'], null)).toBeNull();
  });
});
