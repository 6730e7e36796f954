export * from './generated/prisma/client';
export * from './client';
export type { Log } from './connection';
export * from './errors';
export * from './migrate';
export * from './seed';
export * from './sql';
export * from './testing';
