"""The traffic simulator: real prompt sets and trace shapes, benign and attack families."""
