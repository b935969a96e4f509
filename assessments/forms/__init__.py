"""WTForms forms, one module per noun; every form carries a CSRF token."""
