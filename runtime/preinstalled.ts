// Cortex's Python predictor images pre-installed a data-science stack (images/python-predictor-cpu
// in cortexlabs/cortex: scikit-learn, torch, pandas... and the serving packages numpy, requests,
// boto3, pyyaml...), so old projects' requirements.txt leave them out and fail here at import
// with `ModuleNotFoundError: No module named 'sklearn'`. This names the package to add.

/** Import name → the distribution to add to requirements.txt, for what Cortex's images carried. */
export const CORTEX_PREINSTALLED: Readonly<Record<string, string>> = {
  boto3: 'boto3',
  botocore: 'botocore',
  cloudpickle: 'cloudpickle',
  cv2: 'opencv-python',
  Cython: 'Cython',
  datadog: 'datadog',
  dill: 'dill',
  fastapi: 'fastapi',
  joblib: 'joblib',
  keras: 'Keras',
  msgpack: 'msgpack',
  nltk: 'nltk',
  np_utils: 'np-utils',
  numpy: 'numpy',
  pandas: 'pandas',
  PIL: 'Pillow',
  requests: 'requests',
  scipy: 'scipy',
  six: 'six',
  skimage: 'scikit-image',
  sklearn: 'scikit-learn',
  starlette: 'starlette',
  statsmodels: 'statsmodels',
  sympy: 'sympy',
  tensorflow: 'tensorflow',
  tensorflow_hub: 'tensorflow-hub',
  torch: 'torch',
  torchvision: 'torchvision',
  uvicorn: 'uvicorn',
  xgboost: 'xgboost',
  yaml: 'pyyaml',
};

/**
 * For a predictor's init error like "ModuleNotFoundError: No module named 'sklearn.linear_model'",
 * the sentence to add when Cortex's images shipped that package; undefined otherwise.
 */
export function preinstalledHint(message: string): string | undefined {
  const missing = /ModuleNotFoundError: No module named '([^'.]+)/.exec(message)?.[1];
  if (missing === undefined || !Object.hasOwn(CORTEX_PREINSTALLED, missing)) return undefined;
  const dist = CORTEX_PREINSTALLED[missing];
  return `Cortex's images pre-installed ${dist}; here it must be listed: add ${dist} to requirements.txt`;
}

/** An init error's message with the hint appended when there is one. */
export function withPreinstalledHint(message: string): string {
  const hint = preinstalledHint(message);
  return hint === undefined ? message : `${message} (${hint})`;
}
