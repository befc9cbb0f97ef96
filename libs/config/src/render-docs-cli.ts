import { renderConfigDocs } from './render-docs.js';

process.stdout.write(renderConfigDocs());
