/** The public API for application authors: `import { pipeline, … } from 'tributary'`. */
export * from '@tributary/shared';
