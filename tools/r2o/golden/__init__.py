"""Golden cases: case files, recording expected outputs, and testing against them."""
