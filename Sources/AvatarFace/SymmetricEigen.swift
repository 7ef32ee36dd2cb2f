import Foundation

/// Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations, in Double (the 4×4 Σ q qᵀ of
/// the camera's rotation mean).
struct SymmetricEigen {
    /// Eigenvalues, in no particular order.
    let values: [Double]
    /// Column k of the row-major [n, n] matrix is the unit eigenvector of `values[k]`.
    let vectors: [Double]
    let n: Int

    /// `matrix`: row-major [n, n], symmetric.
    init(_ matrix: [Double], n: Int) {
        var a = matrix
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        let scale = max(a.map(abs).max() ?? 0, .leastNormalMagnitude)
        for _ in 0..<64 {
            var off = 0.0
            for p in 0..<n { for q in (p + 1)..<n { off = max(off, abs(a[p * n + q])) } }
            if off <= 1e-300 || off <= scale * 1e-17 { break }
            for p in 0..<(n - 1) {
                for q in (p + 1)..<n where a[p * n + q] != 0 {
                    // The rotation that zeroes a[p][q] (Golub & Van Loan, sym.schur2).
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let (akp, akq) = (a[k * n + p], a[k * n + q])
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let (apk, aqk) = (a[p * n + k], a[q * n + k])
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let (vkp, vkq) = (v[k * n + p], v[k * n + q])
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        values = (0..<n).map { a[$0 * n + $0] }
        vectors = v
        self.n = n
    }

    /// The unit eigenvector of the largest eigenvalue.
    var principal: [Double] {
        let k = values.indices.max { values[$0] < values[$1] } ?? 0
        return (0..<n).map { vectors[$0 * n + k] }
    }
}
