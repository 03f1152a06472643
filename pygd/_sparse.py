# TEMPORARY stand-in (replaced by the sparse-pre branch)
import numpy as np
import scipy.sparse as sp
def check_csr(X, *, dtype=(np.float64, np.float32), name="X", n_features=None, allow_empty=False):
    if not sp.isspmatrix_csr(X) and not (sp.issparse(X) and X.format == "csr"):
        X = X.tocsr()
    if X.dtype not in (np.float64, np.float32):
        X = X.astype(np.float64)
    if not np.isfinite(X.data).all():
        raise ValueError("Input X contains NaN.")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, but expecting {n_features}")
    if X.indices.dtype != X.indptr.dtype:
        X = X.copy(); X.indices = X.indices.astype(np.int64); X.indptr = X.indptr.astype(np.int64)
    return X
