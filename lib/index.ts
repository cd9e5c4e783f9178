export { KeyMaterialRevocation, KeyMaterialRevocationProps, KeyMaterialScope } from './revocation';
