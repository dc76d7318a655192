//! Our answers to lesson 06's exercises.
