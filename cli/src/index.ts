/**
 * The application API: `import { pipeline, … } from 'tributary'`. Only the API: a process that
 * hosts an application supplies this module to its bundle, which marks `tributary` external.
 */
export * from '@tributary/shared/api';
