package limits

// Lock classes of the package: the names LOCKS.md and lockorder.Order use.

type (
	admissionMu  struct{}
	rateLimitsMu struct{}
)

func (admissionMu) LockClass() string  { return "admission.mu" }
func (rateLimitsMu) LockClass() string { return "rateLimits.mu" }
