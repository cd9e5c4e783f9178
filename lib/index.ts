export * from './revocation';
export * from './external-key';
export * from './expiry';
export * from './guard';
