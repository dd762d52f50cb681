export { mulberry32 } from '@tributary/shared';
