//! Request and response types of the five methods.
