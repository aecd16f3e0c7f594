// What Cortex accepted that this project does not: removed or unsupported settings, each with
// the word the user gets about it. Paths are snake_case, relative to one API.

import { ASYNC_KIND, BATCH_KIND, KIND, SPLITTER_KIND, TASK_KIND } from '../../operator/api/v1alpha1/index.ts';

export const SUPPORTED_KINDS = [KIND, ASYNC_KIND, SPLITTER_KIND, BATCH_KIND, TASK_KIND] as const;

/** Kinds Cortex had that are not implemented (yet): none left since AsyncAPI, BatchAPI and TaskAPI. */
export const UNSUPPORTED_KINDS: Record<string, string> = {};

/** Kinds renamed by Cortex before the versions this project reads. */
export const RENAMED_KINDS: Record<string, string> = { SyncAPI: KIND };

/** Predictor types Cortex had that are not supported: why, and what to do instead. */
export const UNSUPPORTED_PREDICTOR_TYPES: Record<string, { why: string; fix: string }> = {
  tensorflow: {
    why:
      'Cortex ran TensorFlow Serving beside the predictor, which is not available here, and TensorFlow ' +
      'itself is a download of several hundred MB in every replica',
    fix:
      'convert the SavedModel to ONNX (pip install tf2onnx; python -m tf2onnx.convert --saved-model <dir> ' +
      '--output model.onnx) and serve it with type: onnx: keep models, rename TensorFlowPredictor to ' +
      'ONNXPredictor and tensorflow_client to onnx_client (same predict(input, model_name, model_version)); ' +
      'or add tensorflow to requirements.txt and load the SavedModel in a python predictor ' +
      '(load_model with python_client, or in __init__)',
  },
};

export interface CompatRule {
  level: 'warning' | 'error' | 'ignore';
  message: string;
  fix?: string;
}

/** Decides what a Cortex-only field means here, given its value and the API's predictor type. */
type Rule = (value: unknown, predictorType: unknown) => CompatRule;

/** A field of Cortex's TensorFlow Serving setup: reported with the type for tensorflow, else ignored. */
const forTensorFlow =
  (field: string): Rule =>
  (_value, type) =>
    Object.hasOwn(UNSUPPORTED_PREDICTOR_TYPES, String(type))
      ? { level: 'ignore', message: '' } // the predictor type is reported already
      : {
          level: 'warning',
          message: `ignored: ${field} configured Cortex's TensorFlow Serving, unused by python and onnx predictors`,
          fix: `remove ${field}`,
        };

/** Cortex 0.20–0.25 fields that no longer mean anything here. */
export const CORTEX_ONLY_FIELDS: Record<string, Rule> = {
  monitoring: () => ({
    level: 'warning',
    message: "ignored: monitoring was removed in Cortex 0.25; use the runtime's /metrics",
    fix: 'remove the monitoring section',
  }),
  tracker: () => ({
    level: 'warning',
    message:
      "ignored: tracker was Cortex 0.15's prediction tracking (monitoring from 0.16, removed in 0.25); " +
      "use the runtime's /metrics",
    fix: 'remove the tracker section',
  }),
  'networking.api_gateway': () => ({
    level: 'warning',
    message: 'ignored: networking.api_gateway (an AWS API Gateway in front of the API) has no equivalent here',
    fix: 'remove it; put your own ingress or gateway in front of the API if you need one',
  }),
  'networking.local_port': () => ({
    level: 'warning',
    message: 'ignored: networking.local_port; the local environment serves every API on one port, under its endpoint',
    fix: 'remove it',
  }),
  'compute.inf': (value) =>
    value === 0 || value === null
      ? { level: 'ignore', message: '' }
      : {
          level: 'error',
          message: 'not supported: compute.inf (AWS Inferentia chips)',
          fix: 'remove compute.inf and request cpu or gpu instead',
        },
  'predictor.shm_size': () => ({
    level: 'warning',
    message: 'ignored: predictor.shm_size is not supported yet',
    fix: 'remove it',
  }),
  // model_path, multi_model_reloading and signature_key are read by models-section.ts
  'predictor.tensorflow_serving_image': forTensorFlow('predictor.tensorflow_serving_image'),
};
