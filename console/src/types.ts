export interface Condition {
  type: 'LOGIN_DAYS' | 'CONSECUTIVE_LOGIN_DAYS' | 'INVITE_COUNT' | 'COUNTER';
  threshold: number;
  key?: string;
  aggregate?: 'SUM' | 'MAX';
}
export interface Reward {
  type: 'POINT' | 'ITEM' | 'COUPON';
  itemCode?: string;
  quantity: number;
}
export interface Recurrence {
  every: 'DAY' | 'WEEK' | 'MONTH';
  resetAt?: string;
  resetDay?: string | number;
}
export interface Audience {
  segments?: string[];
  rolloutPercent?: number;
  registeredAfter?: string;
  registeredBefore?: string;
}
export interface GameEvent {
  id: string;
  title: string;
  description?: string;
  startsAt: string;
  endsAt: string;
  timezone?: string;
  status: string;
  conditions: Condition[];
  rewards: Reward[];
  maxClaims?: number | null;
  maxClaimsPerPeriod?: number | null;
  recurrence?: Recurrence | null;
  audience?: Audience | null;
  version: number;
  createdBy?: string;
  createdAt?: string;
  updatedAt?: string;
}
export interface Stats {
  approved: number;
  pending: number;
  revoked: number;
  rejected: Record<string, number>;
  stockLeft?: number;
  period?: { startsAt: string; endsAt: string; approved: number; stockLeft?: number };
}
export interface Claim {
  id: string;
  eventId: string;
  userId: string;
  status: string;
  reason?: string;
  source?: string;
  progress?: unknown;
  rewards?: Reward[];
  period?: { startsAt: string; endsAt: string };
  requestedAt: string;
  decidedAt?: string;
}
export interface Period {
  startsAt: string;
  endsAt: string;
}
