// Templates as tagged strings (htm) rendered by Preact: JSX-like markup with no build step.
import htm from 'htm';
import { h } from 'preact';

export const html = htm.bind(h);
